//! The knowledge base: articles with full-text search (SQLite FTS5, ranked by BM25).

use serde::{Deserialize, Serialize};

use crate::{Pool, Result, Store, fetch, fetch_written};

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
        Ok(fetch_written!(self, fetch_one, sqlx::query_as(
            "INSERT INTO articles (title, body, tags) VALUES ($1, $2, $3) RETURNING id, title, body, tags",
        )
        .bind(&a.title)
        .bind(&a.body)
        .bind(&a.tags))?)
    }

    /// Articles matching any of the words of `text`, best first (a match in the title
    /// counts most, then in the tags, then in the body). Words are matched as prefixes;
    /// the text is never interpreted as query syntax.
    pub async fn search_articles(&self, text: &str, limit: i64) -> Result<Vec<Article>> {
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        Ok(match &self.pool {
            Pool::Sqlite(p) => {
                let query = words
                    .iter()
                    .map(|w| format!("\"{w}\"*"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                sqlx::query_as(
                    "SELECT a.id, a.title, a.body, a.tags FROM articles_fts \
                     JOIN articles a ON a.id = articles_fts.rowid \
                     WHERE articles_fts MATCH $1 \
                     ORDER BY bm25(articles_fts, 5.0, 1.0, 3.0), a.id LIMIT $2",
                )
                .bind(query)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
            Pool::Postgres(p) => {
                // Words of letters and digits only, so the query is well-formed.
                let query = words
                    .iter()
                    .map(|w| format!("{}:*", w.to_lowercase()))
                    .collect::<Vec<_>>()
                    .join(" | ");
                sqlx::query_as(
                    "SELECT id, title, body, tags FROM articles, to_tsquery('simple', $1) q \
                     WHERE search @@ q ORDER BY ts_rank(search, q) DESC, id LIMIT $2",
                )
                .bind(query)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
        })
    }

    /// Every article, by id.
    pub async fn articles(&self) -> Result<Vec<Article>> {
        Ok(fetch!(
            self,
            fetch_all,
            sqlx::query_as("SELECT id, title, body, tags FROM articles ORDER BY id")
        )?)
    }
}
