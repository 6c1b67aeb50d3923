//! Customers (CRM-lite) and their cases.

use serde::{Deserialize, Serialize};

use crate::{Result, Store, StoreError};

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
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO customers (name, phone, email, language, segment, tier, account_owner, \
             external_id, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&c.name)
        .bind(&c.phone)
        .bind(&c.email)
        .bind(&c.language)
        .bind(&c.segment)
        .bind(&c.tier)
        .bind(&c.account_owner)
        .bind(&c.external_id)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        self.customer(id).await
    }

    /// Replaces a customer's fields.
    pub async fn update_customer(&self, id: i64, c: &NewCustomer) -> Result<Customer> {
        let done = sqlx::query(
            "UPDATE customers SET name = ?, phone = ?, email = ?, language = ?, segment = ?, \
             tier = ?, account_owner = ?, external_id = ? WHERE id = ?",
        )
        .bind(&c.name)
        .bind(&c.phone)
        .bind(&c.email)
        .bind(&c.language)
        .bind(&c.segment)
        .bind(&c.tier)
        .bind(&c.account_owner)
        .bind(&c.external_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("customer {id}")));
        }
        self.customer(id).await
    }

    /// The customer with this id.
    pub async fn customer(&self, id: i64) -> Result<Customer> {
        sqlx::query_as(&format!("{CUSTOMER} WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("customer {id}")))
    }

    /// The customer reached at `address` (a phone number or an email address).
    pub async fn customer_by_address(&self, address: &str) -> Result<Option<Customer>> {
        Ok(sqlx::query_as(&format!(
            "{CUSTOMER} WHERE phone = ? OR email = ? ORDER BY id LIMIT 1"
        ))
        .bind(address)
        .bind(address)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Customers whose name, phone or email contains `text` (all when empty), by name.
    pub async fn search_customers(&self, text: &str, limit: i64) -> Result<Vec<Customer>> {
        let like = format!("%{}%", text.replace(['%', '_'], ""));
        Ok(sqlx::query_as(&format!(
            "{CUSTOMER} WHERE name LIKE ? OR phone LIKE ? OR email LIKE ? ORDER BY name LIMIT ?"
        ))
        .bind(&like)
        .bind(&like)
        .bind(&like)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Opens a case for a customer.
    pub async fn open_case(&self, customer: i64, subject: &str, now_ms: i64) -> Result<Case> {
        self.customer(customer).await?;
        Ok(sqlx::query_as(
            "INSERT INTO cases (customer_id, subject, status, opened_ms) VALUES (?, ?, 'open', ?) \
             RETURNING id, customer_id, subject, status, opened_ms, closed_ms",
        )
        .bind(customer)
        .bind(subject)
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Closes a case.
    pub async fn close_case(&self, id: i64, now_ms: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE cases SET status = 'closed', closed_ms = ? WHERE id = ? AND status = 'open'",
        )
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("open case {id}")));
        }
        Ok(())
    }

    /// A customer's cases, newest first.
    pub async fn cases_of(&self, customer: i64) -> Result<Vec<Case>> {
        Ok(sqlx::query_as(
            "SELECT id, customer_id, subject, status, opened_ms, closed_ms FROM cases \
             WHERE customer_id = ? ORDER BY opened_ms DESC, id DESC",
        )
        .bind(customer)
        .fetch_all(&self.pool)
        .await?)
    }
}
