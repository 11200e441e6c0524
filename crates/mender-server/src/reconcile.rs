//! Start-up reconciliation between device authentication and inventory: repairs drift left
//! by crashes from before the transactional outbox (a device accepted but never provisioned,
//! a device decommissioned in deviceauth but still listed in inventory, a decommissioning
//! whose workflow was lost). It crosses services, so it lives here and talks to them only
//! through the `mender_api::devices` traits.
//!
//! Every repair is idempotent: re-provisioning merges into inventory, removing a missing
//! device is not an error, and the repairs queue through deviceauth's outbox, skipping devices
//! whose work is already waiting there. Running it twice, or while devices are admitted,
//! changes nothing more than running it once.

use std::collections::BTreeSet;

use mender_api::devices::{AdmissionDirectory, DeviceRef, DirectoryError, InventoryDirectory};

/// What one reconciliation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Accepted devices inventory did not list, whose provisioning was queued again.
    pub reprovisioned: u64,
    /// Inventory entries of devices deviceauth does not know, removed.
    pub removed: u64,
    /// Devices marked for decommissioning whose workflow was queued again.
    pub redecommissioned: u64,
    /// Repairs that failed (logged; the next start tries again).
    pub failed: u64,
}

/// Compares the two services and repairs the differences; returns what it did.
pub async fn reconcile(
    admission: &dyn AdmissionDirectory,
    inventory: &dyn InventoryDirectory,
) -> Result<Report, DirectoryError> {
    // Inventory first: a device created after this snapshot is then in deviceauth's later
    // snapshot too (deviceauth commits a device before any workflow lists it in inventory),
    // so a device being admitted right now is never taken for a removed one.
    let listed: BTreeSet<DeviceRef> = inventory.listed_devices().await?.into_iter().collect();
    let known: BTreeSet<DeviceRef> = admission.known_devices().await?.into_iter().collect();
    let mut report = Report::default();

    for device in listed.difference(&known) {
        match inventory.remove_device(device).await {
            Ok(()) => report.removed += 1,
            Err(e) => {
                tracing::warn!(tenant = %device.tenant, device = %device.id, error = %e, "reconcile: cannot remove an inventory entry of an unknown device");
                report.failed += 1;
            }
        }
    }
    for device in admission.accepted_devices().await? {
        if listed.contains(&device) {
            continue;
        }
        count(
            admission.reprovision(&device).await,
            &mut report.reprovisioned,
            &mut report.failed,
            &device,
            "provisioning",
        );
    }
    for device in admission.decommissioning_devices().await? {
        count(
            admission.redecommission(&device).await,
            &mut report.redecommissioned,
            &mut report.failed,
            &device,
            "decommissioning",
        );
    }
    Ok(report)
}

/// Adds the outcome of one queued repair to `done` or `failed`.
fn count(
    res: Result<bool, DirectoryError>,
    done: &mut u64,
    failed: &mut u64,
    device: &DeviceRef,
    what: &str,
) {
    match res {
        Ok(queued) => *done += u64::from(queued),
        Err(e) => {
            tracing::warn!(tenant = %device.tenant, device = %device.id, error = %e, "reconcile: cannot queue {what} again");
            *failed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn dev(id: &str) -> DeviceRef {
        DeviceRef {
            tenant: String::new(),
            id: id.into(),
        }
    }

    #[derive(Default)]
    struct Fake {
        known: Vec<DeviceRef>,
        accepted: Vec<DeviceRef>,
        decommissioning: Vec<DeviceRef>,
        listed: Mutex<Vec<DeviceRef>>,
        reprovisioned: Mutex<Vec<DeviceRef>>,
        redecommissioned: Mutex<Vec<DeviceRef>>,
    }

    #[async_trait::async_trait]
    impl AdmissionDirectory for Fake {
        async fn known_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError> {
            Ok(self.known.clone())
        }
        async fn accepted_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError> {
            Ok(self.accepted.clone())
        }
        async fn decommissioning_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError> {
            Ok(self.decommissioning.clone())
        }
        async fn reprovision(&self, d: &DeviceRef) -> Result<bool, DirectoryError> {
            self.reprovisioned.lock().unwrap().push(d.clone());
            // Provisioning lists the device in inventory.
            self.listed.lock().unwrap().push(d.clone());
            Ok(true)
        }
        async fn redecommission(&self, d: &DeviceRef) -> Result<bool, DirectoryError> {
            self.redecommissioned.lock().unwrap().push(d.clone());
            Ok(true)
        }
    }

    #[async_trait::async_trait]
    impl InventoryDirectory for Fake {
        async fn listed_devices(&self) -> Result<Vec<DeviceRef>, DirectoryError> {
            Ok(self.listed.lock().unwrap().clone())
        }
        async fn remove_device(&self, d: &DeviceRef) -> Result<(), DirectoryError> {
            self.listed.lock().unwrap().retain(|x| x != d);
            Ok(())
        }
    }

    #[tokio::test]
    async fn repairs_each_kind_of_drift_once() {
        let fake = Fake {
            // a: accepted and listed; b: accepted, missing; c: pending, listed; d: gone from
            // deviceauth but listed; e: decommissioning.
            known: vec![dev("a"), dev("b"), dev("c"), dev("e")],
            accepted: vec![dev("a"), dev("b")],
            decommissioning: vec![dev("e")],
            listed: Mutex::new(vec![dev("a"), dev("c"), dev("d"), dev("e")]),
            ..Fake::default()
        };
        let report = reconcile(&fake, &fake).await.unwrap();
        assert_eq!(
            report,
            Report {
                reprovisioned: 1,
                removed: 1,
                redecommissioned: 1,
                failed: 0
            }
        );
        assert_eq!(*fake.reprovisioned.lock().unwrap(), vec![dev("b")]);
        assert_eq!(*fake.redecommissioned.lock().unwrap(), vec![dev("e")]);
        let mut listed = fake.listed.lock().unwrap().clone();
        listed.sort();
        assert_eq!(listed, vec![dev("a"), dev("b"), dev("c"), dev("e")]);

        // Once repaired, a second run finds nothing to provision or remove.
        fake.redecommissioned.lock().unwrap().clear();
        let again = reconcile(&fake, &fake).await.unwrap();
        assert_eq!((again.reprovisioned, again.removed), (0, 0));
    }
}
