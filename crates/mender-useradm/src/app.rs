//! useradm's operations, named after upstream's: login/logout, users, settings, personal
//! access tokens, tenants. Knows nothing of HTTP; talks to the store trait.

use std::sync::{Arc, OnceLock};

use bcrypt::Version;
use mender_core::Identity;
use serde_json::Value;

use crate::config::UseradmConfig;
use crate::error::Error;
use crate::keys::Keys;
use crate::model::{
    Claims, LoginOptions, NewTenant, PersonalAccessToken, SCOPE_ALL, Secret, TokenRequest, User,
    UserNew, UserNewInternal, UserUpdate, now,
};
use crate::store::{StoreError, TokenRecord, UserChanges, UserFilter, UserRecord, UseradmStore};
use crate::validate::{self, FieldErrors};

/// The useradm application: configuration, keys and store.
pub struct App {
    pub(crate) store: Arc<dyn UseradmStore>,
    pub(crate) keys: Keys,
    pub(crate) config: UseradmConfig,
    dummy_hash: OnceLock<String>,
}

impl App {
    /// An app over a store.
    pub fn new(store: Arc<dyn UseradmStore>, keys: Keys, config: UseradmConfig) -> Self {
        Self {
            store,
            keys,
            config,
            dummy_hash: OnceLock::new(),
        }
    }

    /// Checks that the database answers.
    pub async fn health(&self) -> Result<(), Error> {
        self.store
            .ping()
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// Logs in with email and password; returns the signed token.
    pub async fn login(
        &self,
        email: &str,
        password: &Secret,
        opts: LoginOptions,
    ) -> Result<String, Error> {
        let email = validate::normalize_email(email);
        if email.is_empty() {
            return Err(Error::Unauthorized);
        }
        let user = self.store.get_user_by_email("", &email).await?;
        let Some(user) = user else {
            // Spend the same time as a real check so unknown emails cannot be told apart.
            let dummy = self.dummy_hash().await;
            let _ = self.check_password(password, &dummy).await;
            return Err(Error::Unauthorized);
        };
        if !self.check_password(password, &user.password_hash).await {
            return Err(Error::Unauthorized);
        }
        let at = now();
        let exp = (!opts.no_expiry).then(|| at.saturating_add(self.config.jwt_exp_timeout as i64));
        let (token, record) = self.issue(&user.id, "", at, exp, None)?;
        self.store
            .save_session_token(&record, self.config.limit_sessions_per_user)
            .await?;
        if let Err(e) = self.store.set_login_time("", &user.id, at).await {
            tracing::warn!(error = %e, "failed to update the login timestamp");
        }
        Ok(token)
    }

    /// Revokes the token the caller used.
    pub async fn logout(&self, id: &Identity) -> Result<(), Error> {
        self.store
            .delete_token(&id.tenant, &id.subject, &id.token_id)
            .await?;
        Ok(())
    }

    /// Creates a user with a password (the management API and the CLI).
    pub async fn create_user(&self, tenant: &str, new: UserNew) -> Result<User, Error> {
        let email = validate::normalize_email(new.email.as_deref().unwrap_or(""));
        let password = new.password.unwrap_or_default();
        let mut errs = FieldErrors::default();
        if let Some(p) = validate::email_problem(&email) {
            errs.add("email", p);
        }
        validate::password_field(&mut errs, password.expose(), true);
        errs.finish()?;
        validate::password_rules(password.expose())?;
        if validate::too_similar(&email, password.expose()) {
            return Err(Error::PasswordTooSimilar);
        }
        let hash = self.hash_password(password.expose()).await?;
        self.insert_user(tenant, uuid::Uuid::new_v4().to_string(), email, hash)
            .await
    }

    /// Creates a user under a tenant (internal API): with a password or a ready bcrypt hash,
    /// and optionally a chosen id.
    pub async fn create_user_internal(
        &self,
        tenant: &str,
        new: UserNewInternal,
    ) -> Result<User, Error> {
        let email = validate::normalize_email(new.email.as_deref().unwrap_or(""));
        let password = new.password.unwrap_or_default();
        let hash = new.password_hash.unwrap_or_default();
        if password.expose().is_empty() == hash.expose().is_empty() {
            return Err(Error::BadRequest(
                "password *or* password_hash must be provided".into(),
            ));
        }
        let mut errs = FieldErrors::default();
        if let Some(p) = validate::email_problem(&email) {
            errs.add("email", p);
        }
        if !password.expose().is_empty() {
            validate::password_field(&mut errs, password.expose(), true);
        } else if !is_bcrypt_hash(hash.expose()) {
            errs.add("password_hash", "must be a bcrypt hash");
        }
        errs.finish()?;
        let hash = if password.expose().is_empty() {
            hash.0
        } else {
            validate::password_rules(password.expose())
                .map_err(|e| Error::BadRequest(e.to_string()))?;
            self.hash_password(password.expose()).await?
        };
        let id = match new.id.filter(|i| !i.is_empty()) {
            Some(id) if id.len() > 128 => {
                return Err(Error::BadRequest(
                    "id: the length must be no more than 128.".into(),
                ));
            }
            Some(id) => id,
            None => uuid::Uuid::new_v4().to_string(),
        };
        self.insert_user(tenant, id, email, hash).await
    }

    async fn insert_user(
        &self,
        tenant: &str,
        id: String,
        email: String,
        hash: String,
    ) -> Result<User, Error> {
        let at = now();
        let record = UserRecord {
            id,
            tenant_id: tenant.to_owned(),
            email,
            password_hash: hash,
            created_at: at,
            updated_at: at,
            login_at: None,
        };
        match self.store.create_user(&record).await {
            Ok(()) => Ok(User::from(&record)),
            Err(StoreError::DuplicateEmail) => Err(Error::DuplicateEmail),
            Err(StoreError::DuplicateId) => Err(Error::DuplicateUserId),
            Err(e) => Err(e.into()),
        }
    }

    /// Users of a tenant matching the filter.
    pub async fn list_users(&self, tenant: &str, filter: &UserFilter) -> Result<Vec<User>, Error> {
        Ok(self
            .store
            .list_users(tenant, filter)
            .await?
            .iter()
            .map(User::from)
            .collect())
    }

    /// One user; `me` is the caller.
    pub async fn get_user(&self, caller: &Identity, id: &str) -> Result<User, Error> {
        let id = if id == "me" {
            caller.subject.as_str()
        } else {
            id
        };
        let user = self.store.get_user(&caller.tenant, id).await?;
        user.as_ref().map(User::from).ok_or(Error::UserNotFound)
    }

    /// Changes a user's email and/or password and revokes their tokens except the caller's.
    /// Only users may change their own password, and need `current_password` to change their
    /// password or email.
    pub async fn update_user(
        &self,
        caller: &Identity,
        id: &str,
        upd: UserUpdate,
    ) -> Result<(), Error> {
        let email = upd
            .email
            .as_deref()
            .map(validate::normalize_email)
            .unwrap_or_default();
        let password = upd.password.unwrap_or_default();
        let current = upd.current_password.unwrap_or_default();
        if email.is_empty() && password.expose().is_empty() {
            return Err(Error::BadRequest("no update information provided".into()));
        }
        let mut errs = FieldErrors::default();
        if let Some(p) = validate::email_problem(&email).filter(|_| !email.is_empty()) {
            errs.add("email", p);
        }
        validate::password_field(&mut errs, password.expose(), false);
        errs.finish()?;
        if !password.expose().is_empty() {
            validate::password_rules(password.expose())?;
        }

        let id = if id.eq_ignore_ascii_case("me") {
            caller.subject.as_str()
        } else {
            id
        };
        let me = id == caller.subject;
        let user = self
            .store
            .get_user(&caller.tenant, id)
            .await?
            .ok_or(Error::UserNotFound)?;
        if !me && !password.expose().is_empty() {
            return Err(Error::CannotModifyPassword);
        }
        let email_changes = !email.is_empty() && email != user.email;
        if me
            && (!password.expose().is_empty() || email_changes)
            && !self.check_password(&current, &user.password_hash).await
        {
            return Err(Error::CurrentPasswordMismatch);
        }
        let similar = if !password.expose().is_empty() {
            validate::too_similar(&email, password.expose())
                || validate::too_similar(&user.email, password.expose())
        } else {
            validate::too_similar(&email, current.expose())
        };
        if similar {
            return Err(Error::PasswordTooSimilar);
        }
        let password_hash = match password.expose() {
            "" => None,
            p => Some(self.hash_password(p).await?),
        };
        let changes = UserChanges {
            email: (!email.is_empty()).then_some(email),
            password_hash,
            updated_at: now(),
        };
        let keep = (!caller.token_id.is_empty()).then_some(caller.token_id.as_str());
        match self
            .store
            .update_user(&caller.tenant, id, &changes, keep)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::DuplicateEmail) => Err(Error::DuplicateEmail),
            Err(StoreError::NotFound) => Err(Error::UserNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a user with their tokens; deleting a missing user is not an error.
    pub async fn delete_user(&self, tenant: &str, id: &str) -> Result<(), Error> {
        self.store.delete_user(tenant, id).await?;
        Ok(())
    }

    /// Global settings (`user` = `None`) or a user's: the object and its ETag, if any.
    pub async fn get_settings(
        &self,
        tenant: &str,
        user: Option<&str>,
    ) -> Result<(Value, Option<String>), Error> {
        Ok(match self.store.get_settings(tenant, user).await? {
            Some(s) => (s.values, Some(s.etag).filter(|e| !e.is_empty())),
            None => (Value::Object(serde_json::Map::new()), None),
        })
    }

    /// Replaces settings; with `if_match`, only the version with that ETag.
    pub async fn save_settings(
        &self,
        tenant: &str,
        user: Option<&str>,
        values: Value,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let values = validate::settings(values)?;
        let etag = uuid::Uuid::new_v4().to_string();
        match self
            .store
            .save_settings(tenant, user, &values, &etag, if_match)
            .await
        {
            Err(StoreError::ETagMismatch) => Err(Error::ETagMismatch),
            other => Ok(other?),
        }
    }

    /// Issues a personal access token for the caller; returns the signed token.
    pub async fn issue_personal_token(
        &self,
        caller: &Identity,
        req: TokenRequest,
    ) -> Result<String, Error> {
        validate::token_request(
            req.name.as_deref(),
            req.expires_in,
            self.config.token_max_expiration_seconds,
        )?;
        let at = now();
        let exp = (req.expires_in > 0).then(|| at.saturating_add(req.expires_in));
        let (token, record) = self.issue(&caller.subject, &caller.tenant, at, exp, req.name)?;
        match self
            .store
            .create_personal_token(&record, self.config.limit_tokens_per_user)
            .await
        {
            Ok(()) => Ok(token),
            Err(StoreError::TooManyTokens) => Err(Error::TooManyTokens),
            Err(StoreError::DuplicateTokenName) => Err(Error::DuplicateTokenName),
            Err(e) => Err(e.into()),
        }
    }

    /// The caller's personal access tokens.
    pub async fn list_personal_tokens(
        &self,
        caller: &Identity,
    ) -> Result<Vec<PersonalAccessToken>, Error> {
        let tokens = self
            .store
            .list_personal_tokens(&caller.tenant, &caller.subject)
            .await?;
        Ok(tokens.iter().map(PersonalAccessToken::from).collect())
    }

    /// Revokes one of the caller's tokens.
    pub async fn delete_token(&self, caller: &Identity, id: &str) -> Result<(), Error> {
        self.store
            .delete_token(&caller.tenant, &caller.subject, id)
            .await?;
        Ok(())
    }

    /// Revokes every token of a tenant, or of one of its users.
    pub async fn delete_tokens(&self, tenant: &str, user: Option<&str>) -> Result<(), Error> {
        match user.filter(|u| !u.is_empty()) {
            Some(u) => self.store.delete_user_tokens(tenant, u).await?,
            None => self.store.delete_tenant_tokens(tenant).await?,
        };
        Ok(())
    }

    /// Creating a tenant needs no state in the open-source server; the id is only validated.
    pub fn create_tenant(&self, t: &NewTenant) -> Result<(), Error> {
        match t.tenant_id.as_deref() {
            None | Some("") => Err(Error::BadRequest("tenant_id: cannot be blank.".into())),
            Some(_) => Ok(()),
        }
    }

    /// Mints and signs a token; returns it with the record to store.
    fn issue(
        &self,
        user_id: &str,
        tenant: &str,
        at: i64,
        exp: Option<i64>,
        name: Option<String>,
    ) -> Result<(String, TokenRecord), Error> {
        let claims = Claims {
            jti: uuid::Uuid::new_v4().to_string(),
            sub: user_id.to_owned(),
            exp,
            iat: at,
            tenant: tenant.to_owned(),
            user: true,
            iss: self.config.jwt_issuer.clone(),
            scp: SCOPE_ALL.to_owned(),
            nbf: at,
        };
        let token = self
            .keys
            .primary()
            .encode(Some(self.keys.primary_id()), &claims)
            .map_err(|e| Error::Internal(format!("signing a token: {e}")))?;
        let record = TokenRecord {
            id: claims.jti,
            user_id: claims.sub,
            tenant_id: claims.tenant,
            name,
            issued_at: at,
            expires_at: exp,
            last_used: None,
        };
        Ok((token, record))
    }

    /// bcrypt-hashes a password in Go's `$2a$` format, off the async threads. Passwords over
    /// 72 bytes are refused, never truncated. (bcrypt's key is the password plus a NUL byte,
    /// cut to 72 bytes: at exactly 72 bytes only the NUL is dropped, as in Go, so the crate's
    /// truncating hash is used behind our own length check.)
    pub(crate) async fn hash_password(&self, password: &str) -> Result<String, Error> {
        if password.len() > validate::MAX_PASSWORD_BYTES {
            return Err(Error::Unprocessable(format!(
                "password: must be at most {} bytes long",
                validate::MAX_PASSWORD_BYTES
            )));
        }
        let password = password.to_owned();
        let cost = self.config.bcrypt_cost;
        tokio::task::spawn_blocking(move || {
            bcrypt::hash_with_result(password, cost).map(|h| h.format_for_version(Version::TwoA))
        })
        .await
        .map_err(|e| Error::Internal(format!("password hashing task: {e}")))?
        .map_err(|e| Error::Internal(format!("password hashing: {e}")))
    }

    /// Whether `password` matches a `$2a$`/`$2b$`/`$2y$` hash; passwords over 72 bytes, which
    /// bcrypt would truncate, never match.
    pub(crate) async fn check_password(&self, password: &Secret, hash: &str) -> bool {
        if password.expose().len() > validate::MAX_PASSWORD_BYTES {
            return false;
        }
        let password = password.expose().to_owned();
        let hash = hash.to_owned();
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false)
    }

    /// Whether `password` matches a stored bcrypt hash (`$2a$`, `$2b$` or `$2y$`).
    pub async fn password_matches(&self, password: &str, hash: &str) -> bool {
        self.check_password(&Secret(password.to_owned()), hash)
            .await
    }

    async fn dummy_hash(&self) -> String {
        if let Some(h) = self.dummy_hash.get() {
            return h.clone();
        }
        let h = self
            .hash_password(&uuid::Uuid::new_v4().to_string())
            .await
            .unwrap_or_default();
        self.dummy_hash.get_or_init(|| h).clone()
    }
}

/// A bcrypt hash as Go and this crate write them: `$2a$`/`$2b$`/`$2y$`, a two-digit cost, 53 characters.
fn is_bcrypt_hash(h: &str) -> bool {
    let b = h.as_bytes();
    b.len() == 60
        && (h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$"))
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
        && b[7..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/')
}
