//! The knowledge base: articles with full-text search (SQLite FTS5, ranked by BM25).

use serde::{Deserialize, Serialize};

use crate::{Result, Store};

/// A knowledge-base article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Article {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Body (Markdown).
    pub body: String,
    /// Space-separated tags: queue names, IVR choices, contact reasons.
    pub tags: String,
}

/// An article to add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArticle {
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Tags.
    #[serde(default)]
    pub tags: String,
}

impl Store {
    /// Adds an article.
    pub async fn add_article(&self, a: &NewArticle) -> Result<Article> {
        Ok(sqlx::query_as(
            "INSERT INTO articles (title, body, tags) VALUES (?, ?, ?) RETURNING id, title, body, tags",
        )
        .bind(&a.title)
        .bind(&a.body)
        .bind(&a.tags)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Articles matching any of the words of `text`, best first. Words are matched as
    /// prefixes; the text is never interpreted as FTS query syntax.
    pub async fn search_articles(&self, text: &str, limit: i64) -> Result<Vec<Article>> {
        let query = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{w}\"*"))
            .collect::<Vec<_>>()
            .join(" OR ");
        if query.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT a.id, a.title, a.body, a.tags FROM articles_fts \
             JOIN articles a ON a.id = articles_fts.rowid \
             WHERE articles_fts MATCH ? ORDER BY bm25(articles_fts, 5.0, 1.0, 3.0) LIMIT ?",
        )
        .bind(query)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every article, by id.
    pub async fn articles(&self) -> Result<Vec<Article>> {
        Ok(
            sqlx::query_as("SELECT id, title, body, tags FROM articles ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
