//! useradm's operations, named after upstream's: login/logout, users, settings, personal
//! access tokens, tenants. Knows nothing of HTTP; talks to the store trait.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bcrypt::Version;
use mender_core::ids::new_uuid;
use mender_core::limit::WorkGate;
use mender_core::{Identity, Secret, SharedClock, TenantId, Timestamp, TokenId, UserId};
use serde_json::Value;

use crate::config::UseradmConfig;
use crate::error::Error;
use crate::keys::Keys;
use crate::model::{
    Claims, LoginOptions, NewTenant, OwnUserUpdate, PersonalAccessToken, SCOPE_ALL, TokenRequest,
    User, UserNew, UserNewInternal, UserUpdate,
};
use crate::store::{
    SettingsRecord, StoreError, TokenRecord, UserChanges, UserFilter, UserRecord, UseradmStore,
};
use crate::throttle::LoginThrottle;
use crate::validate::{self, FieldErrors};

/// The useradm application: configuration, keys, clock and store.
pub struct App {
    pub(crate) store: Arc<dyn UseradmStore>,
    pub(crate) clock: SharedClock,
    pub(crate) keys: Keys,
    pub(crate) config: UseradmConfig,
    dummy_hash: OnceLock<Secret>,
    throttle: LoginThrottle,
    /// Every bcrypt computation runs through it: bounded on the blocking pool.
    bcrypt: WorkGate,
}

/// Who is calling, in the store's terms.
struct Caller {
    tenant: TenantId,
    user: UserId,
    token: TokenId,
}

impl From<&Identity> for Caller {
    fn from(id: &Identity) -> Self {
        Self {
            tenant: id.tenant.as_str().into(),
            user: id.subject.as_str().into(),
            token: id.token_id.as_str().into(),
        }
    }
}

impl App {
    /// An app over a store.
    pub fn new(
        store: Arc<dyn UseradmStore>,
        clock: SharedClock,
        keys: Keys,
        config: UseradmConfig,
    ) -> Self {
        Self {
            throttle: LoginThrottle::new(clock.clone(), &config),
            bcrypt: WorkGate::new(config.bcrypt_workers, config.bcrypt_queue),
            store,
            clock,
            keys,
            config,
            dummy_hash: OnceLock::new(),
        }
    }

    /// The current time in whole seconds: what the columns and the token claims hold, so
    /// that a time rendered right away equals the one read back later.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now().trunc_secs()
    }

    /// Checks that the database answers.
    pub async fn health(&self) -> Result<(), Error> {
        self.store
            .ping()
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))
    }

    /// Logs in with email and password from client address `from`; returns the signed
    /// token. Failed logins back off per address and per account ([`LoginThrottle`]): a
    /// throttled attempt is [`Error::TooManyRequests`] before any password is checked.
    pub async fn login(
        &self,
        email: &str,
        password: &Secret,
        opts: LoginOptions,
        from: IpAddr,
    ) -> Result<Secret, Error> {
        let email = validate::normalize_email(email);
        self.throttle
            .check(from, &email)
            .map_err(Error::TooManyRequests)?;
        let user = match self.authenticate(&email, password).await {
            Ok(user) => user,
            Err(Error::Unauthorized) => {
                self.throttle.failed(from, &email);
                return Err(Error::Unauthorized);
            }
            Err(e) => return Err(e),
        };
        self.throttle.succeeded(from, &email);
        let tenant = TenantId::default_tenant();
        let at = self.now();
        let lifetime = (!opts.no_expiry).then(|| Duration::from_secs(self.config.jwt_exp_timeout));
        let (token, record) = self.issue(&user.id, &tenant, at, lifetime, None)?;
        self.store
            .save_session_token(&record, self.config.limit_sessions_per_user)
            .await?;
        if let Err(e) = self.store.set_login_time(&tenant, &user.id, at).await {
            tracing::warn!(error = %e, "failed to update the login timestamp");
        }
        Ok(token)
    }

    /// The user with this (normalised) email and password; [`Error::Unauthorized`] if there
    /// is none.
    async fn authenticate(&self, email: &str, password: &Secret) -> Result<UserRecord, Error> {
        if email.is_empty() {
            return Err(Error::Unauthorized);
        }
        let tenant = TenantId::default_tenant();
        let user = self.store.get_user_by_email(&tenant, email).await?;
        let Some(user) = user else {
            // Spend the same time as a real check so unknown emails cannot be told apart.
            let dummy = self.dummy_hash().await?;
            self.check_password(password, &dummy).await?;
            return Err(Error::Unauthorized);
        };
        if !self.check_password(password, &user.password_hash).await? {
            return Err(Error::Unauthorized);
        }
        Ok(user)
    }

    /// Revokes the token the caller used.
    pub async fn logout(&self, caller: &Identity) -> Result<(), Error> {
        let c = Caller::from(caller);
        self.store
            .delete_token(&c.tenant, &c.user, &c.token)
            .await?;
        Ok(())
    }

    /// Creates a user with a password (the management API and the CLI).
    pub async fn create_user(&self, tenant: &TenantId, new: UserNew) -> Result<User, Error> {
        let email = validate::normalize_email(new.email.as_deref().unwrap_or(""));
        let password = new.password.unwrap_or_default();
        let mut errs = FieldErrors::default();
        if let Some(p) = validate::email_problem(&email) {
            errs.add("email", p);
        }
        validate::password_field(&mut errs, password.expose_str(), true);
        errs.finish()?;
        validate::password_rules(password.expose_str())?;
        if validate::too_similar(&email, password.expose_str()) {
            return Err(Error::PasswordTooSimilar);
        }
        let hash = self.hash_password(&password).await?;
        self.insert_user(tenant, new_uuid().into(), email, hash)
            .await
    }

    /// Creates a user under a tenant (internal API): with a password or a ready bcrypt hash,
    /// and optionally a chosen id.
    pub async fn create_user_internal(
        &self,
        tenant: &TenantId,
        new: UserNewInternal,
    ) -> Result<User, Error> {
        let email = validate::normalize_email(new.email.as_deref().unwrap_or(""));
        let password = new.password.unwrap_or_default();
        let hash = new.password_hash.unwrap_or_default();
        if password.expose_str().is_empty() == hash.expose_str().is_empty() {
            return Err(Error::BadRequest(
                "password *or* password_hash must be provided".into(),
            ));
        }
        let mut errs = FieldErrors::default();
        if let Some(p) = validate::email_problem(&email) {
            errs.add("email", p);
        }
        if !password.expose_str().is_empty() {
            validate::password_field(&mut errs, password.expose_str(), true);
        } else if !is_bcrypt_hash(hash.expose_str()) {
            errs.add("password_hash", "must be a bcrypt hash");
        }
        errs.finish()?;
        let hash = if password.expose_str().is_empty() {
            hash
        } else {
            validate::password_rules(password.expose_str())
                .map_err(|e| Error::BadRequest(e.to_string()))?;
            self.hash_password(&password).await?
        };
        let id = match new.id.filter(|i| !i.is_empty()) {
            Some(id) if id.as_str().len() > 128 => {
                return Err(Error::BadRequest(
                    "id: the length must be no more than 128.".into(),
                ));
            }
            Some(id) => id,
            None => new_uuid().into(),
        };
        self.insert_user(tenant, id, email, hash).await
    }

    async fn insert_user(
        &self,
        tenant: &TenantId,
        id: UserId,
        email: String,
        hash: Secret,
    ) -> Result<User, Error> {
        let at = self.now();
        let record = UserRecord {
            id,
            tenant_id: tenant.clone(),
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
    pub async fn list_users(
        &self,
        tenant: &TenantId,
        filter: &UserFilter,
    ) -> Result<Vec<User>, Error> {
        Ok(self
            .store
            .list_users(tenant, filter)
            .await?
            .iter()
            .map(User::from)
            .collect())
    }

    /// One user; `me` is the caller.
    pub async fn get_user(&self, caller: &Identity, id: &UserId) -> Result<User, Error> {
        let c = Caller::from(caller);
        let id = if id == "me" { &c.user } else { id };
        let user = self.store.get_user(&c.tenant, id).await?;
        user.as_ref().map(User::from).ok_or(Error::UserNotFound)
    }

    /// Changes a user's email and/or password and revokes their tokens except the caller's.
    /// Only users may change their own password, and need `current_password` to change their
    /// password or email.
    pub async fn update_user(
        &self,
        caller: &Identity,
        id: &UserId,
        upd: UserUpdate,
    ) -> Result<(), Error> {
        let email = upd
            .email
            .as_deref()
            .map(validate::normalize_email)
            .unwrap_or_default();
        let password = upd.password.unwrap_or_default();
        let current = upd.current_password.unwrap_or_default();
        if email.is_empty() && password.expose_str().is_empty() {
            return Err(Error::BadRequest("no update information provided".into()));
        }
        let mut errs = FieldErrors::default();
        if let Some(p) = validate::email_problem(&email).filter(|_| !email.is_empty()) {
            errs.add("email", p);
        }
        validate::password_field(&mut errs, password.expose_str(), false);
        errs.finish()?;
        if !password.expose_str().is_empty() {
            validate::password_rules(password.expose_str())?;
        }

        let c = Caller::from(caller);
        let id = if id.as_str().eq_ignore_ascii_case("me") {
            &c.user
        } else {
            id
        };
        let me = *id == c.user;
        let user = self
            .store
            .get_user(&c.tenant, id)
            .await?
            .ok_or(Error::UserNotFound)?;
        if !me && !password.expose_str().is_empty() {
            return Err(Error::CannotModifyPassword);
        }
        let email_changes = !email.is_empty() && email != user.email;
        if me
            && (!password.expose_str().is_empty() || email_changes)
            && !self.check_password(&current, &user.password_hash).await?
        {
            return Err(Error::CurrentPasswordMismatch);
        }
        let similar = if !password.expose_str().is_empty() {
            validate::too_similar(&email, password.expose_str())
                || validate::too_similar(&user.email, password.expose_str())
        } else {
            validate::too_similar(&email, current.expose_str())
        };
        if similar {
            return Err(Error::PasswordTooSimilar);
        }
        let password_hash = match password.expose_str() {
            "" => None,
            _ => Some(self.hash_password(&password).await?),
        };
        let changes = UserChanges {
            email: (!email.is_empty()).then_some(email),
            password_hash,
            updated_at: self.now(),
        };
        let keep = (!c.token.is_empty()).then_some(&c.token);
        match self.store.update_user(&c.tenant, id, &changes, keep).await {
            Ok(()) => Ok(()),
            Err(StoreError::DuplicateEmail) => Err(Error::DuplicateEmail),
            Err(StoreError::NotFound) => Err(Error::UserNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// `PUT /api/management/v2/useradm/users/me`: the caller changes their own password (with
    /// the right `current_password`), or nothing. Either way `updated_ts` moves and every other
    /// token of the caller is revoked, as upstream does even for `{}`.
    pub async fn update_own_user(
        &self,
        caller: &Identity,
        upd: OwnUserUpdate,
    ) -> Result<(), Error> {
        let password = upd.password.unwrap_or_default();
        let current = upd.current_password.unwrap_or_default();
        let changes_password = !password.expose_str().is_empty();
        if changes_password {
            validate::password_field_v2(password.expose_str())?;
            validate::password_rules(password.expose_str())?;
        }
        let c = Caller::from(caller);
        let user = self
            .store
            .get_user(&c.tenant, &c.user)
            .await?
            .ok_or(Error::UserNotFound)?;
        let password_hash = if changes_password {
            if !self.check_password(&current, &user.password_hash).await? {
                return Err(Error::CurrentPasswordMismatch);
            }
            if validate::too_similar(&user.email, password.expose_str()) {
                return Err(Error::PasswordTooSimilar);
            }
            Some(self.hash_password(&password).await?)
        } else {
            None
        };
        let changes = UserChanges {
            email: None,
            password_hash,
            updated_at: self.now(),
        };
        let keep = (!c.token.is_empty()).then_some(&c.token);
        match self
            .store
            .update_user(&c.tenant, &c.user, &changes, keep)
            .await
        {
            Ok(()) => Ok(()),
            // Found above, gone now: upstream's answer to a concurrent change.
            Err(StoreError::NotFound) => Err(Error::UserChanged),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a user with their tokens; deleting a missing user is not an error.
    pub async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<(), Error> {
        self.store.delete_user(tenant, id).await?;
        Ok(())
    }

    /// Global settings (`user` = `None`) or a user's: the object and its ETag, if any.
    pub async fn get_settings(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
    ) -> Result<(Value, Option<String>), Error> {
        Ok(match self.store.get_settings(tenant, user).await? {
            Some(s) => (s.values, Some(s.etag).filter(|e| !e.is_empty())),
            None => (Value::Object(serde_json::Map::new()), None),
        })
    }

    /// Replaces settings; with `if_match`, only the version with that ETag.
    pub async fn save_settings(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        values: Value,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let new = SettingsRecord {
            values: validate::settings(values)?,
            etag: new_uuid(),
        };
        match self.store.save_settings(tenant, user, &new, if_match).await {
            Err(StoreError::ETagMismatch) => Err(Error::ETagMismatch),
            other => Ok(other?),
        }
    }

    /// Issues a personal access token for the caller; returns the signed token.
    pub async fn issue_personal_token(
        &self,
        caller: &Identity,
        req: TokenRequest,
    ) -> Result<Secret, Error> {
        validate::token_request(
            req.name.as_deref(),
            req.expires_in,
            self.config.token_max_expiration_seconds,
        )?;
        let c = Caller::from(caller);
        // `token_request` refused negative lifetimes.
        let lifetime = (req.expires_in > 0).then(|| Duration::from_secs(req.expires_in as u64));
        let (token, record) = self.issue(&c.user, &c.tenant, self.now(), lifetime, req.name)?;
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
        let c = Caller::from(caller);
        let tokens = self.store.list_personal_tokens(&c.tenant, &c.user).await?;
        Ok(tokens.iter().map(PersonalAccessToken::from).collect())
    }

    /// Revokes one of the caller's tokens.
    pub async fn delete_token(&self, caller: &Identity, id: &TokenId) -> Result<(), Error> {
        let c = Caller::from(caller);
        self.store.delete_token(&c.tenant, &c.user, id).await?;
        Ok(())
    }

    /// Revokes every token of a tenant, or of one of its users.
    pub async fn delete_tokens(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
    ) -> Result<(), Error> {
        match user.filter(|u| !u.is_empty()) {
            Some(u) => self.store.delete_user_tokens(tenant, u).await?,
            None => self.store.delete_tenant_tokens(tenant).await?,
        };
        Ok(())
    }

    /// Creating a tenant needs no state in the open-source server; the id is only validated.
    pub fn create_tenant(&self, t: &NewTenant) -> Result<(), Error> {
        match &t.tenant_id {
            Some(id) if !id.is_empty() => Ok(()),
            _ => Err(Error::BadRequest("tenant_id: cannot be blank.".into())),
        }
    }

    /// Mints and signs a token issued `at`, expiring after `lifetime` if given; returns it
    /// with the record to store.
    fn issue(
        &self,
        user: &UserId,
        tenant: &TenantId,
        at: Timestamp,
        lifetime: Option<Duration>,
        name: Option<String>,
    ) -> Result<(Secret, TokenRecord), Error> {
        let exp = lifetime.map(|d| at + d);
        let claims = Claims {
            jti: new_uuid().into(),
            sub: user.clone(),
            exp: exp.map(Timestamp::unix_secs),
            iat: at.unix_secs(),
            tenant: tenant.clone(),
            user: true,
            iss: self.config.jwt_issuer.clone(),
            scp: SCOPE_ALL.to_owned(),
            nbf: at.unix_secs(),
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
        Ok((Secret::new(token), record))
    }

    /// bcrypt-hashes a password in Go's `$2a$` format, through the bcrypt gate. Passwords over
    /// 72 bytes are refused, never truncated. (bcrypt's key is the password plus a NUL byte,
    /// cut to 72 bytes: at exactly 72 bytes only the NUL is dropped, as in Go, so the crate's
    /// truncating hash is used behind our own length check.)
    pub(crate) async fn hash_password(&self, password: &Secret) -> Result<Secret, Error> {
        if password.expose_str().len() > validate::MAX_PASSWORD_BYTES {
            return Err(Error::Unprocessable(format!(
                "password: must be at most {} bytes long",
                validate::MAX_PASSWORD_BYTES
            )));
        }
        let password = password.clone();
        let cost = self.config.bcrypt_cost;
        self.bcrypt
            .run(move || {
                bcrypt::hash_with_result(password.expose_str(), cost)
                    .map(|h| Secret::new(h.format_for_version(Version::TwoA)))
            })
            .await?
            .map_err(|e| Error::Internal(format!("password hashing: {e}")))
    }

    /// Whether `password` matches a `$2a$`/`$2b$`/`$2y$` hash; passwords over 72 bytes, which
    /// bcrypt would truncate, never match. [`Error::Busy`] when the bcrypt gate refuses.
    pub(crate) async fn check_password(
        &self,
        password: &Secret,
        hash: &Secret,
    ) -> Result<bool, Error> {
        if password.expose_str().len() > validate::MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let (password, hash) = (password.clone(), hash.clone());
        Ok(self
            .bcrypt
            .run(move || bcrypt::verify(password.expose_str(), hash.expose_str()).unwrap_or(false))
            .await?)
    }

    /// Whether `password` matches a stored bcrypt hash (`$2a$`, `$2b$` or `$2y$`).
    pub async fn password_matches(&self, password: &str, hash: &str) -> Result<bool, Error> {
        self.check_password(&password.into(), &hash.into()).await
    }

    async fn dummy_hash(&self) -> Result<Secret, Error> {
        if let Some(h) = self.dummy_hash.get() {
            return Ok(h.clone());
        }
        let h = self.hash_password(&new_uuid().into()).await?;
        Ok(self.dummy_hash.get_or_init(|| h).clone())
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
