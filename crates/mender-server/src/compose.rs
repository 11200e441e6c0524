//! Builds every service on its database and wires them together.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use mender_core::SharedClock;
use mender_core::service::Routers;
use mender_db::Db;

use crate::config::Config;
use crate::dispatch::LocalDispatcher;

/// All services of one process, ready to serve.
pub struct Services {
    /// User administration.
    pub useradm: Arc<mender_useradm::Service>,
    /// The workflow engine.
    pub workflows: Arc<mender_workflows::Service>,
    /// Device authentication.
    pub deviceauth: Arc<mender_deviceauth::Service>,
    /// Device inventory.
    pub inventory: Arc<mender_inventory::Service>,
    /// Artifacts, releases and deployments.
    pub deployments: Arc<mender_deployments::Service>,
    /// Device configuration.
    pub deviceconfig: Arc<mender_deviceconfig::Service>,
    /// Remote connections to devices.
    pub deviceconnect: Arc<mender_deviceconnect::Service>,
    /// The public and internal routers.
    pub routers: mender_gateway::Composed,
}

/// Opens the useradm database (for the `user create` command and for `serve`).
pub async fn useradm(
    config: &Config,
    clock: SharedClock,
) -> anyhow::Result<Arc<mender_useradm::Service>> {
    let url = config.database()?;
    let db = Db::connect(&url, &mender_useradm::SCHEMA).await?;
    let keys = mender_useradm::Keys::from_config(
        &keys_dir(&config.data_dir, mender_useradm::SERVICE),
        config.useradm.private_key.as_deref(),
    )
    .context("cannot load the useradm signing key")?;
    Ok(mender_useradm::Service::new(
        db,
        clock,
        keys,
        config.useradm.clone(),
    ))
}

/// Where a service keeps its signing keys.
pub fn keys_dir(data_dir: &Path, service: &str) -> std::path::PathBuf {
    data_dir.join("keys").join(service)
}

/// Opens the workflow engine: its job store and the job queue.
pub async fn workflows(
    config: &Config,
    clock: SharedClock,
    dispatcher: Arc<LocalDispatcher>,
) -> anyhow::Result<Arc<mender_workflows::Service>> {
    let url = config.database()?;
    let queue_db = Db::connect(&url, &mender_queue::SCHEMA).await?;
    let queue: Arc<dyn mender_queue::JobQueue> =
        Arc::new(mender_queue::SqlQueue::new(queue_db, clock.clone()));
    let db = Db::connect(&url, &mender_workflows::SCHEMA).await?;
    mender_workflows::Service::new(db, clock, queue, dispatcher, workflows_config(config))
        .await
        .context("cannot start the workflow engine")
}

/// The engine's settings with the `HAVE_*` switches of the services this server has turned
/// on (upstream's compose sets `HAVE_DEVICECONFIG=1` and `HAVE_DEVICECONNECT=1`), so
/// `provision_device` and `decommission_device` reach deviceconfig and deviceconnect. An
/// operator's own value wins: setting `HAVE_DEVICECONFIG = ""` in `[workflows.env]`
/// switches those tasks off again.
fn workflows_config(config: &Config) -> mender_workflows::WorkflowsConfig {
    let mut wc = config.workflows.clone();
    for have in ["HAVE_DEVICECONFIG", "HAVE_DEVICECONNECT"] {
        wc.env
            .entry(have.to_owned())
            .or_insert_with(|| "1".to_owned());
    }
    wc
}

/// Opens device authentication; it starts workflows through the engine.
pub async fn deviceauth(
    config: &Config,
    clock: SharedClock,
    workflows: Arc<mender_workflows::Service>,
) -> anyhow::Result<Arc<mender_deviceauth::Service>> {
    let url = config.database()?;
    let db = Db::connect(&url, &mender_deviceauth::SCHEMA).await?;
    let key = mender_deviceauth::load_signing_key(
        &config.deviceauth,
        &keys_dir(&config.data_dir, mender_deviceauth::SERVICE),
    )
    .context("cannot load the deviceauth signing key")?;
    Ok(mender_deviceauth::Service::new(
        db,
        clock,
        key,
        config.deviceauth.clone(),
        workflows,
    ))
}

/// Opens deployments with artifacts on local disk in `<data_dir>/artifacts`.
pub async fn deployments(
    config: &Config,
    clock: SharedClock,
    workflows: Arc<mender_workflows::Service>,
    inventory: Arc<mender_inventory::Service>,
) -> anyhow::Result<Arc<mender_deployments::Service>> {
    let url = config.database()?;
    let db = Db::connect(&url, &mender_deployments::SCHEMA).await?;
    let dir = config.data_dir.join("artifacts");
    let blobs: Arc<dyn mender_blob::BlobStore> = Arc::new(
        mender_blob::FsBlobStore::new(&dir)
            .await
            .with_context(|| format!("cannot use the artifact directory {}", dir.display()))?,
    );
    let mut dc = config.deployments.clone();
    dc.resolve_presign_secret(&config.data_dir)
        .context("cannot create the download-link secret")?;
    let service = mender_deployments::Service::new(
        db,
        clock,
        blobs,
        dc,
        workflows,
        Arc::new(crate::adapters::InventoryAdapter(inventory)),
    )
    .context("cannot create the download-link signing key")?;
    // What a crash left behind; serving does not depend on it, so a failure only warns.
    if let Err(e) = service.sweep_storage().await {
        tracing::warn!(error = %e, "cannot sweep artifact storage");
    }
    Ok(service)
}

/// Builds all services and the gateway.
pub async fn build(config: &Config) -> anyhow::Result<Services> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let url = config.database()?;
    let network: Arc<dyn mender_workflows::HttpDispatcher> =
        Arc::new(mender_workflows::ReqwestDispatcher::new());
    let dispatcher = Arc::new(LocalDispatcher::new(None, network));
    let clock = mender_core::clock::system();
    let useradm = useradm(config, clock.clone()).await?;
    let workflows = workflows(config, clock.clone(), dispatcher.clone()).await?;
    let deviceauth = deviceauth(config, clock.clone(), workflows.clone()).await?;
    let inventory = mender_inventory::Service::new(
        Db::connect(&url, &mender_inventory::SCHEMA).await?,
        clock.clone(),
        config.inventory.clone(),
    );
    let deployments =
        deployments(config, clock.clone(), workflows.clone(), inventory.clone()).await?;
    let deviceconfig = mender_deviceconfig::Service::new(
        Db::connect(&url, &mender_deviceconfig::SCHEMA).await?,
        clock.clone(),
        Arc::new(crate::adapters::ConfigurationDeploymentsAdapter(
            deployments.clone(),
        )),
    );
    let deviceconnect = mender_deviceconnect::Service::new(
        Db::connect(&url, &mender_deviceconnect::SCHEMA).await?,
        clock,
    );

    let routers = Routers::default()
        .merge(useradm.routers())
        .merge(workflows.routers())
        .merge(deviceauth.routers())
        .merge(inventory.routers())
        .merge(deployments.routers())
        .merge(deviceconfig.routers())
        .merge(deviceconnect.routers());
    let composed = mender_gateway::compose(
        routers,
        mender_gateway::GatewayConfig {
            user_verifier: useradm.verifier(),
            device_verifier: Some(deviceauth.verifier()),
            body_limit: config.request_size_limit,
        },
    );
    dispatcher.set_router(composed.internal.clone());
    bootstrap_admin(config, &useradm).await?;
    Ok(Services {
        useradm,
        workflows,
        deviceauth,
        inventory,
        deployments,
        deviceconfig,
        deviceconnect,
        routers: composed,
    })
}

/// Creates the configured first administrator if it does not exist yet.
async fn bootstrap_admin(config: &Config, useradm: &mender_useradm::Service) -> anyhow::Result<()> {
    let admin = &config.admin;
    if admin.email.is_empty() {
        return Ok(());
    }
    let password = match &admin.password_file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("cannot read admin.password_file {}", f.display()))?
            .trim_end_matches(['\n', '\r'])
            .to_owned(),
        None => admin.password.clone(),
    };
    if password.is_empty() {
        anyhow::bail!(
            "admin.email is set but no admin password: set admin.password_file (or admin.password)"
        );
    }
    match useradm.create_user(&admin.email, &password).await {
        Ok(_) => {
            tracing::info!(email = %admin.email, "created the first administrator from the configuration");
            Ok(())
        }
        Err(e) if e.is_duplicate() => Ok(()),
        Err(e) => Err(anyhow::anyhow!(
            "cannot create the administrator {}: {e}",
            admin.email
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviceconfig_and_deviceconnect_tasks_are_on_unless_the_operator_says_otherwise() {
        let mut config = Config::default();
        assert_eq!(workflows_config(&config).env["HAVE_DEVICECONFIG"], "1");
        assert_eq!(workflows_config(&config).env["HAVE_DEVICECONNECT"], "1");
        config
            .workflows
            .env
            .insert("HAVE_DEVICECONFIG".into(), String::new());
        assert_eq!(workflows_config(&config).env["HAVE_DEVICECONFIG"], "");
    }
}
