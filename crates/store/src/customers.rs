//! Customers (CRM-lite) and their cases.

use serde::{Deserialize, Serialize};

use crate::{Result, Store, StoreError, exec, fetch, fetch_written};

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Customer {
    /// Id.
    pub id: i64,
    /// Full name.
    pub name: String,
    /// Phone number (E.164).
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Preferred language (e.g. `en`, `fr`).
    pub language: Option<String>,
    /// Segment (e.g. `consumer`, `business`).
    pub segment: Option<String>,
    /// Tier (e.g. `gold`).
    pub tier: Option<String>,
    /// Login name of the agent who owns the account.
    pub account_owner: Option<String>,
    /// Id in an external CRM.
    pub external_id: Option<String>,
    /// When the record was made (ms since the epoch).
    pub created_ms: i64,
}

/// The fields of a customer that callers may set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// Full name.
    pub name: String,
    /// Phone number (E.164).
    #[serde(default)]
    pub phone: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Preferred language.
    #[serde(default)]
    pub language: Option<String>,
    /// Segment.
    #[serde(default)]
    pub segment: Option<String>,
    /// Tier.
    #[serde(default)]
    pub tier: Option<String>,
    /// Account owner (agent login).
    #[serde(default)]
    pub account_owner: Option<String>,
    /// External CRM id.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A case (a customer's issue that may span contacts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Case {
    /// Id.
    pub id: i64,
    /// Customer.
    pub customer_id: i64,
    /// What it is about.
    pub subject: String,
    /// `open` or `closed`.
    pub status: String,
    /// Opened (ms since the epoch).
    pub opened_ms: i64,
    /// Closed (ms since the epoch).
    pub closed_ms: Option<i64>,
}

const CUSTOMER: &str = "SELECT id, name, phone, email, language, segment, tier, account_owner, \
                        external_id, created_ms FROM customers";

impl Store {
    /// Adds a customer.
    pub async fn create_customer(&self, c: &NewCustomer, now_ms: i64) -> Result<Customer> {
        let id: i64 = fetch_written!(self, fetch_one, sqlx::query_scalar(
            "INSERT INTO customers (name, phone, email, language, segment, tier, account_owner, \
             external_id, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&c.name)
        .bind(&c.phone)
        .bind(&c.email)
        .bind(&c.language)
        .bind(&c.segment)
        .bind(&c.tier)
        .bind(&c.account_owner)
        .bind(&c.external_id)
        .bind(now_ms))?;
        self.customer(id).await
    }

    /// Replaces a customer's fields.
    pub async fn update_customer(&self, id: i64, c: &NewCustomer) -> Result<Customer> {
        let done = exec!(self, sqlx::query(
            "UPDATE customers SET name = $1, phone = $2, email = $3, language = $4, segment = $5, \
             tier = $6, account_owner = $7, external_id = $8 WHERE id = $9",
        )
        .bind(&c.name)
        .bind(&c.phone)
        .bind(&c.email)
        .bind(&c.language)
        .bind(&c.segment)
        .bind(&c.tier)
        .bind(&c.account_owner)
        .bind(&c.external_id)
        .bind(id))?;
        if done == 0 {
            return Err(StoreError::NotFound(format!("customer {id}")));
        }
        self.customer(id).await
    }

    /// The customer with this id.
    pub async fn customer(&self, id: i64) -> Result<Customer> {
        fetch!(
            self,
            fetch_optional,
            sqlx::query_as(&format!("{CUSTOMER} WHERE id = $1")).bind(id)
        )?
        .ok_or_else(|| StoreError::NotFound(format!("customer {id}")))
    }

    /// The customer reached at `address` (a phone number or an email address).
    pub async fn customer_by_address(&self, address: &str) -> Result<Option<Customer>> {
        Ok(fetch!(
            self,
            fetch_optional,
            sqlx::query_as(&format!(
                "{CUSTOMER} WHERE phone = $1 OR email = $2 ORDER BY id LIMIT 1"
            ))
            .bind(address)
            .bind(address)
        )?)
    }

    /// Customers whose name, phone or email contains `text` (all when empty), by name.
    pub async fn search_customers(&self, text: &str, limit: i64) -> Result<Vec<Customer>> {
        let like = format!("%{}%", text.replace(['%', '_'], ""));
        Ok(fetch!(
            self,
            fetch_all,
            sqlx::query_as(&format!(
                // LOWER: PostgreSQL's LIKE is case-sensitive, SQLite's is not.
                "{CUSTOMER} WHERE LOWER(name) LIKE LOWER($1) OR phone LIKE $1 \
             OR LOWER(email) LIKE LOWER($1) ORDER BY name LIMIT $2"
            ))
            .bind(&like)
            .bind(limit)
        )?)
    }

    /// Opens a case for a customer.
    pub async fn open_case(&self, customer: i64, subject: &str, now_ms: i64) -> Result<Case> {
        self.customer(customer).await?;
        Ok(fetch_written!(self, fetch_one, sqlx::query_as(
            "INSERT INTO cases (customer_id, subject, status, opened_ms) VALUES ($1, $2, 'open', $3) \
             RETURNING id, customer_id, subject, status, opened_ms, closed_ms",
        )
        .bind(customer)
        .bind(subject)
        .bind(now_ms))?)
    }

    /// Closes a case.
    pub async fn close_case(&self, id: i64, now_ms: i64) -> Result<()> {
        let done = exec!(self, sqlx::query(
            "UPDATE cases SET status = 'closed', closed_ms = $1 WHERE id = $2 AND status = 'open'",
        )
        .bind(now_ms)
        .bind(id))?;
        if done == 0 {
            return Err(StoreError::NotFound(format!("open case {id}")));
        }
        Ok(())
    }

    /// A customer's cases, newest first.
    pub async fn cases_of(&self, customer: i64) -> Result<Vec<Case>> {
        Ok(fetch!(
            self,
            fetch_all,
            sqlx::query_as(
                "SELECT id, customer_id, subject, status, opened_ms, closed_ms FROM cases \
             WHERE customer_id = $1 ORDER BY opened_ms DESC, id DESC",
            )
            .bind(customer)
        )?)
    }
}
