//! Which of upstream's Traefik routers a public path belongs to, and so which authentication
//! runs before the request reaches a service. Upstream's routers (root `docker-compose.yml`)
//! match unanchored path regexps and the longest rule wins; a path that no service router
//! matches falls to the web UI's catch-all, which answers 404 without looking at tokens.

use std::sync::LazyLock;

use regex::Regex;

/// What the gateway does with a public request before routing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A service router without authentication (login, device auth requests, signed
    /// downloads).
    Open,
    /// A management router: a user token must verify first (`userauth` forwardAuth).
    User,
    /// A device router: a device token must verify first (`devauth` forwardAuth).
    Device,
    /// No service router: upstream's web UI catch-all.
    Outside,
}

impl Class {
    /// Whether upstream's router chain for this class has the `sec-headers` middleware.
    pub fn security_headers(self, router: &str) -> bool {
        match self {
            Class::User => true,
            Class::Open => router == "userauth" || router == "deploymentsDL",
            Class::Device | Class::Outside => false,
        }
    }
}

/// One Traefik router: its name, the rule text (whose length is its priority), the path
/// regexp, a path regexp that must not match, and what it asks of the caller.
struct Rule {
    name: &'static str,
    priority: usize,
    path: Regex,
    unless: Option<Regex>,
    class: Class,
}

/// Upstream's v4.1.3 routers as (name, path regexp, excluded regexp, class). The rule text
/// whose length Traefik uses as priority is rebuilt from these in [`RULES`]; the next release
/// ANDs every rule with the same `Host(...)` term, which keeps their order.
const ROUTERS: &[(&str, &str, Option<&str>, Class)] = &[
    (
        "deviceauthDev",
        "/api/devices/v[0-9a-z]+/authentication",
        None,
        Class::Open,
    ),
    (
        "deploymentsDL",
        "/api/devices/v[0-9a-z]+/deployments/download",
        None,
        Class::Open,
    ),
    (
        "userauth",
        "/api/management/v[0-9a-z]+/useradm/(auth|oauth2|oidc)",
        Some("/api/management/v[0-9a-z]+/useradm/auth/logout"),
        Class::Open,
    ),
    (
        "deviceauthMgmt",
        "/api/management/v[0-9a-z]+/devauth",
        None,
        Class::User,
    ),
    (
        "deploymentsDev",
        "/api/devices/v[0-9a-z]+/deployments",
        None,
        Class::Device,
    ),
    (
        "deploymentsMgmt",
        "/api/management/v[0-9a-z]+/deployments",
        None,
        Class::User,
    ),
    (
        "deviceconfigDev",
        "/api/devices/v[0-9a-z]+/deviceconfig",
        None,
        Class::Device,
    ),
    (
        "deviceconfigMgmt",
        "/api/management/v[0-9a-z]+/deviceconfig",
        None,
        Class::User,
    ),
    (
        "deviceconnectDev",
        "/api/devices/v[0-9a-z]+/deviceconnect",
        None,
        Class::Device,
    ),
    (
        "deviceconnectMgmt",
        "/api/management/v[0-9a-z]+/deviceconnect",
        None,
        Class::User,
    ),
    (
        "inventoryDevV1",
        "/api/devices/v1/inventory",
        None,
        Class::Device,
    ),
    (
        "inventoryMgmtV1",
        "/api/management/v1/inventory",
        None,
        Class::User,
    ),
    (
        "inventoryDev",
        "/api/devices/v[2-9]/inventory",
        None,
        Class::Device,
    ),
    (
        "inventoryMgmt",
        "/api/management/v[2-9]/inventory",
        None,
        Class::User,
    ),
    // Not one of upstream's routers: its next release specifies
    // `/api/management/v2alpha1/inventory/identities/search`, which its `v[2-9]` rule does not
    // match. mender-rs serves it, behind a user token like the rest of the inventory.
    (
        "inventoryMgmtV2alpha1",
        "/api/management/v2alpha1/inventory",
        None,
        Class::User,
    ),
    (
        "iot-managerMgmt",
        "/api/management/v[0-9a-z]+/iot-manager",
        None,
        Class::User,
    ),
    (
        "useradm",
        "/api/management/v[0-9a-z]+/useradm",
        None,
        Class::User,
    ),
];

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    ROUTERS
        .iter()
        .filter_map(|&(name, path, unless, class)| {
            // Traefik's default priority is the length of the rule as written in the labels.
            let text = match unless {
                Some(u) => format!("!PathRegexp(`{u}`) && PathRegexp(`{path}`)"),
                None => format!("PathRegexp(`{path}`)"),
            };
            let path = Regex::new(path).ok()?;
            let unless = match unless {
                Some(u) => Some(Regex::new(u).ok()?),
                None => None,
            };
            Some(Rule {
                name,
                priority: text.len(),
                path,
                unless,
                class,
            })
        })
        .collect()
});

/// The class of a (percent-decoded) request path, and the name of the Traefik router that
/// takes it (`gui` for none).
pub fn classify(path: &str) -> (Class, &'static str) {
    RULES
        .iter()
        .filter(|r| r.path.is_match(path) && !r.unless.as_ref().is_some_and(|u| u.is_match(path)))
        .max_by_key(|r| r.priority)
        .map_or((Class::Outside, "gui"), |r| (r.class, r.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_router_compiles() {
        assert_eq!(RULES.len(), ROUTERS.len());
    }

    #[test]
    fn paths_go_to_upstreams_routers() {
        for (path, class, router) in [
            (
                "/api/devices/v1/authentication/auth_requests",
                Class::Open,
                "deviceauthDev",
            ),
            (
                "/api/devices/v1/deployments/download/configuration/x",
                Class::Open,
                "deploymentsDL",
            ),
            (
                "/api/devices/v1/deployments/device/deployments/next",
                Class::Device,
                "deploymentsDev",
            ),
            (
                "/api/management/v1/useradm/auth/login",
                Class::Open,
                "userauth",
            ),
            ("/api/management/v1/useradm/oidc/x", Class::Open, "userauth"),
            (
                "/api/management/v1/useradm/auth/logout",
                Class::User,
                "useradm",
            ),
            ("/api/management/v1/useradm/users", Class::User, "useradm"),
            (
                "/api/management/v2/devauth/devices",
                Class::User,
                "deviceauthMgmt",
            ),
            (
                "/api/management/v1/deviceconfig/configurations/device/x",
                Class::User,
                "deviceconfigMgmt",
            ),
            (
                "/api/devices/v1/deviceconnect/connect",
                Class::Device,
                "deviceconnectDev",
            ),
            (
                "/api/management/v1/iot-manager/integrations",
                Class::User,
                "iot-managerMgmt",
            ),
            (
                "/api/management/v2/inventory/nope",
                Class::User,
                "inventoryMgmt",
            ),
            (
                "/api/devices/v1/inventory/device/attributes",
                Class::Device,
                "inventoryDevV1",
            ),
            // Unanchored: a longer path that contains a router's pattern is that router's.
            (
                "/x/api/management/v1/deploymentsfoo",
                Class::User,
                "deploymentsMgmt",
            ),
            ("/api/management/v1/auditlogs/logs", Class::Outside, "gui"),
            (
                "/api/management/v1/inventory2",
                Class::User,
                "inventoryMgmtV1",
            ),
            ("/api/management/v10/inventory/x", Class::Outside, "gui"),
            (
                "/api/management/v2alpha1/inventory/identities/search",
                Class::User,
                "inventoryMgmtV2alpha1",
            ),
            ("/api/devices/v1/foo", Class::Outside, "gui"),
            (
                "/api/internal/v1/devauth/tokens/verify",
                Class::Outside,
                "gui",
            ),
            ("/api/v1/workflow/provision_device", Class::Outside, "gui"),
            ("/", Class::Outside, "gui"),
        ] {
            assert_eq!(classify(path), (class, router), "{path}");
        }
    }
}
