//! The in-process router between sockets: each connected device has one link (a queue of
//! frames to its socket) and the sessions users opened to it (a queue of frames to each
//! user's socket), keyed by tenant and device. Dropping a queue's sender ends the socket
//! that reads it, which is how one side's end reaches the other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mender_core::{DeviceId, TenantId};
use tokio::sync::mpsc;

/// One encoded `ProtoMsg`.
pub type Frame = Vec<u8>;

/// How many frames wait for a slow socket before the sender waits too.
const QUEUE: usize = 64;

type Key = (TenantId, DeviceId);

/// Sessions by id, with where their frames go.
pub type Sessions = Vec<(String, mpsc::Sender<Frame>)>;

/// A device's socket as the hub knows it.
#[derive(Debug)]
struct Link {
    conn: u64,
    to_device: mpsc::Sender<Frame>,
    sessions: HashMap<String, mpsc::Sender<Frame>>,
}

/// Sockets of connected devices and the sessions open to them, in this process.
#[derive(Debug, Default)]
pub struct Hub {
    links: Mutex<HashMap<Key, Link>>,
    next: AtomicU64,
}

/// A device socket's end of the hub: what to write to the device.
#[derive(Debug)]
pub struct DeviceLink {
    /// This connection's number (a newer connection of the same device replaces it).
    pub conn: u64,
    /// Frames for the device; `None` once a newer connection replaced this one.
    pub rx: mpsc::Receiver<Frame>,
}

/// A user socket's end of the hub.
#[derive(Debug)]
pub struct SessionLink {
    /// Frames for the device.
    pub to_device: mpsc::Sender<Frame>,
    /// Frames for the user; `None` once the device went away.
    pub rx: mpsc::Receiver<Frame>,
}

impl Hub {
    fn links(&self) -> MutexGuard<'_, HashMap<Key, Link>> {
        // A panic under this lock leaves the map consistent: every change is one insert or
        // remove.
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a device's new socket, replacing (and so ending) an older one; the sessions
    /// that were open to the older one.
    pub fn attach(&self, tenant: &TenantId, device: &DeviceId) -> (DeviceLink, Sessions) {
        let conn = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE);
        let link = Link {
            conn,
            to_device: tx,
            sessions: HashMap::new(),
        };
        let old = self.links().insert((tenant.clone(), device.clone()), link);
        let sessions = old.map(|l| l.sessions.into_iter().collect());
        (DeviceLink { conn, rx }, sessions.unwrap_or_default())
    }

    /// Forgets the device's socket `conn` if it is still the current one, returning the
    /// sessions that were open to it (their senders, to say goodbye before dropping them).
    pub fn detach(&self, tenant: &TenantId, device: &DeviceId, conn: u64) -> Option<Sessions> {
        let mut links = self.links();
        let key = (tenant.clone(), device.clone());
        if links.get(&key).is_none_or(|l| l.conn != conn) {
            return None;
        }
        links.remove(&key).map(|l| l.sessions.into_iter().collect())
    }

    /// Opens session `sid` to the device; `None` when it has no socket here.
    pub fn open(&self, tenant: &TenantId, device: &DeviceId, sid: &str) -> Option<SessionLink> {
        let mut links = self.links();
        let link = links.get_mut(&(tenant.clone(), device.clone()))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        link.sessions.insert(sid.to_owned(), tx);
        Some(SessionLink {
            to_device: link.to_device.clone(),
            rx,
        })
    }

    /// Where frames for the device go; `None` when it has no socket here.
    pub fn device(&self, tenant: &TenantId, device: &DeviceId) -> Option<mpsc::Sender<Frame>> {
        self.links()
            .get(&(tenant.clone(), device.clone()))
            .map(|l| l.to_device.clone())
    }

    /// Closes session `sid`.
    pub fn close(&self, tenant: &TenantId, device: &DeviceId, sid: &str) {
        if let Some(link) = self.links().get_mut(&(tenant.clone(), device.clone())) {
            link.sessions.remove(sid);
        }
    }

    /// Where frames of session `sid` of the device go.
    pub fn session(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        sid: &str,
    ) -> Option<mpsc::Sender<Frame>> {
        self.links()
            .get(&(tenant.clone(), device.clone()))
            .and_then(|l| l.sessions.get(sid).cloned())
    }
}

/// A shared hub.
pub type SharedHub = Arc<Hub>;
