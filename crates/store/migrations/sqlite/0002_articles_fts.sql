-- Full-text search over knowledge-base articles (SQLite FTS5; PostgreSQL uses tsvector).
CREATE VIRTUAL TABLE articles_fts USING fts5 (title, body, tags, content = 'articles', content_rowid = 'id');
CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags);
END;
CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, old.tags);
END;
CREATE TRIGGER articles_au AFTER UPDATE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, old.tags);
    INSERT INTO articles_fts (rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags);
END;
