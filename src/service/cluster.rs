//! Replicas sharing one PostgreSQL store: who is alive, who taps which feed, who owns which
//! alert.
//!
//! Every replica loads the same configuration. Each holds a lease row in the store
//! ([`PgStore::renew`]) that it renews every third of `lease_secs`; a replica whose lease has
//! expired (by the database's clock) is dead. A feed belongs to the live replica that
//! rendezvous (highest-random-weight) hashing of its shard key picks — the feed's device when
//! it names one, so that one device's feeds meet in one judge, else the feed's id. When the
//! live set changes only the dead or returning replica's feeds move (rendezvous hashing's
//! property), and they move within `lease_secs` plus one renewal period. A returning replica
//! takes its feeds at once; the others let them go at their next renewal, so a feed is tapped
//! twice for at most one renewal period.
//!
//! Alerts follow the same rule: an alert about a device some feed names belongs to the
//! replica that taps that device; any other alert stays with the replica that raised it
//! while that replica lives, then goes to the rendezvous pick among the living. The owner
//! resolves the alert when it goes quiet and owes its deliveries. The store's unique index
//! of firing alerts gives each violation one id across the cluster ([`Saved::Existing`]).
//!
//! While the store cannot be reached a replica keeps tapping the feeds it has and reports not
//! ready; its alert state changes wait (the lifecycle's pending changes, at most one per
//! device and technique, also on disk in the state directory so that a restart keeps them:
//! [`super::pending`]) and are stored when the store answers again.
//!
//! [`Saved::Existing`]: crate::sinks::store::Saved::Existing

use super::config::{ClusterSettings, Feed};
use crate::model::{Alert, DeviceId};
use crate::sinks::store::postgres::{PgStore, Replica};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The replica rendezvous hashing gives `key` among `replicas` (the highest weight, ties to
/// the smaller id); `None` when there are none.
pub fn rendezvous<'a>(key: &str, replicas: &'a [String]) -> Option<&'a str> {
    replicas
        .iter()
        .map(|r| {
            let h = Sha256::new()
                .chain_update(key.as_bytes())
                .chain_update([0u8])
                .chain_update(r.as_bytes())
                .finalize();
            let mut w = [0u8; 8];
            w.copy_from_slice(&h[..8]);
            (u64::from_be_bytes(w), std::cmp::Reverse(r.as_str()))
        })
        .max()
        .map(|(_, std::cmp::Reverse(r))| r)
}

/// Whether `replica` is the one rendezvous hashing gives `key` among `live`: the one rule by
/// which a replica taps a feed, audits a device and reports its compliance.
pub fn placed_on(key: &str, replica: &str, live: &[String]) -> bool {
    rendezvous(key, live) == Some(replica)
}

/// What a feed is placed by: its device when it names one, else its id.
pub fn shard_key(feed: &Feed) -> &str {
    feed.device.as_deref().unwrap_or(&feed.id)
}

/// This replica's identity: `[cluster] replica`, else `HOSTNAME` (a StatefulSet pod's name,
/// `banwatch-0`), else an error.
pub fn replica_id(settings: &ClusterSettings) -> Result<String, String> {
    if let Some(r) = settings.replica.as_ref().filter(|r| !r.is_empty()) {
        return Ok(r.clone());
    }
    match std::env::var("HOSTNAME") {
        Ok(h) if !h.is_empty() => Ok(h),
        _ => Err("cluster: no replica id (set `replica` or HOSTNAME)".into()),
    }
}

/// What the cluster looks like from here (the API, readiness and metrics read it).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ClusterStatus {
    /// This replica.
    pub replica: String,
    /// Live replicas at the last renewal, this one included.
    pub live: Vec<String>,
    /// Feeds this replica taps.
    pub feeds: Vec<String>,
    /// The lease was renewed within `lease_secs` (ready).
    pub lease_held: bool,
    /// Live replicas whose configuration hash differs from this one's.
    pub config_differs: Vec<String>,
    /// The last store error, while the store cannot be reached.
    pub store_error: Option<String>,
}

/// Alert ownership after the live set changed: alerts to take into this replica's lifecycle,
/// devices whose alerts now belong elsewhere.
#[derive(Debug, Default)]
pub struct Handover {
    /// This replica.
    pub replica: String,
    /// The live replicas now.
    pub live: Vec<String>,
    /// Firing alerts this replica owns now (claimed from another, or its own after a restart).
    pub take: Vec<Alert>,
    /// Devices whose alerts another replica owns now.
    pub release: Vec<DeviceId>,
}

/// The owner of an alert about `device` held by `holder`: see the module's rule.
fn alert_owner<'a>(
    device: &str,
    holder: &'a str,
    live: &'a [String],
    fed: &BTreeSet<&str>,
) -> Option<&'a str> {
    if fed.contains(device) || !live.iter().any(|r| r == holder) {
        rendezvous(device, live)
    } else {
        Some(holder)
    }
}

/// Everything the lease loop needs.
pub struct Leases {
    /// The shared store.
    pub store: PgStore,
    /// `[cluster]`.
    pub settings: ClusterSettings,
    /// This configuration's hash.
    pub config_hash: String,
    /// (feed id, shard key) of every configured feed.
    pub feeds: Vec<(String, String)>,
    /// Shared with the API.
    pub status: Arc<Mutex<ClusterStatus>>,
}

impl Leases {
    fn status(&self) -> std::sync::MutexGuard<'_, ClusterStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Renew the lease every third of `lease_secs` until stopped; publish the feeds this
    /// replica owns on `owned` and alert handovers on `handover`. On stop the lease is given
    /// up, so the others take the feeds without waiting for it to expire.
    pub async fn run(
        self,
        owned: watch::Sender<BTreeSet<String>>,
        handover: mpsc::Sender<Handover>,
        mut stop: watch::Receiver<bool>,
    ) {
        let lease = self.settings.lease_secs as f64;
        let every = Duration::from_secs_f64(lease / 3.0);
        let me = self.store.replica().to_string();
        let mut last_live: Option<Vec<String>> = None;
        let mut last_ok = crate::clock::now();
        let mut failing = false;
        // Replicas that start together see each other before taking feeds: the first
        // renewal only registers the lease, the feeds come with the second.
        let mut registered = false;
        loop {
            let (store, hash) = (self.store.clone(), self.config_hash.clone());
            let renewed = tokio::task::spawn_blocking(move || store.renew(lease, &hash)).await;
            match renewed {
                Ok(Ok(live)) => {
                    if failing {
                        tracing::warn!("cluster: the shared store answers again; lease renewed");
                        failing = false;
                    }
                    last_ok = crate::clock::now();
                    if !registered {
                        registered = true;
                        tokio::select! {
                            _ = tokio::time::sleep(every.min(Duration::from_secs(2))) => continue,
                            _ = stop.changed() => break,
                        }
                    }
                    let ids: Vec<String> = live.iter().map(|r| r.id.clone()).collect();
                    self.renewed(&me, &live, &owned);
                    if last_live.as_ref() != Some(&ids) {
                        tracing::info!(replicas = ?ids, "cluster: live replicas");
                        if let Some(h) = self.handover(&me, &ids).await {
                            let _ = handover.send(h).await;
                        }
                        last_live = Some(ids);
                    }
                }
                Ok(Err(e)) => {
                    if !failing {
                        tracing::error!("cluster: lease not renewed: {e}; tapping the feeds held, not ready until it is");
                        failing = true;
                    }
                    let mut st = self.status();
                    st.store_error = Some(e.to_string());
                    st.lease_held = crate::clock::now() - last_ok < lease;
                }
                Err(e) => tracing::error!("cluster: lease task: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => break,
            }
        }
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.release()).await {
            Ok(Ok(())) => tracing::info!("cluster: lease given up"),
            Ok(Err(e)) => tracing::warn!("cluster: lease not given up ({e}); it expires"),
            Err(_) => {}
        }
    }

    /// A renewal succeeded with `live`: recompute the owned feeds and the status.
    fn renewed(&self, me: &str, live: &[Replica], owned: &watch::Sender<BTreeSet<String>>) {
        let ids: Vec<String> = live.iter().map(|r| r.id.clone()).collect();
        let mine: BTreeSet<String> = self
            .feeds
            .iter()
            .filter(|(_, key)| placed_on(key, me, &ids))
            .map(|(id, _)| id.clone())
            .collect();
        let differs: Vec<String> = live
            .iter()
            .filter(|r| r.config_hash != self.config_hash)
            .map(|r| r.id.clone())
            .collect();
        {
            let mut st = self.status();
            if !differs.is_empty() && st.config_differs != differs {
                tracing::error!(replicas = ?differs, "cluster: these replicas run a different configuration; feeds may be tapped twice or not at all");
            }
            st.replica = me.to_string();
            st.live = ids;
            st.feeds = mine.iter().cloned().collect();
            st.lease_held = true;
            st.config_differs = differs;
            st.store_error = None;
        }
        if *owned.borrow() != mine {
            tracing::info!(feeds = mine.len(), "cluster: feeds owned");
            let _ = owned.send(mine.clone());
        }
        // Written at every renewal, not only on change: the table heals from any write that
        // raced another replica's or was lost while the store was down.
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.record_feeds(mine.into_iter().collect()) {
                tracing::debug!("cluster: feed owners not recorded: {e}");
            }
        });
    }

    /// Work out which firing alerts this replica owns now among `live`; claim those another
    /// replica held.
    async fn handover(&self, me: &str, live: &[String]) -> Option<Handover> {
        let store = self.store.clone();
        let firing = match tokio::task::spawn_blocking(move || store.firing_owners()).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                tracing::warn!("cluster: firing alerts not read: {e}");
                return None;
            }
            Err(_) => return None,
        };
        let fed: BTreeSet<&str> = self.feeds.iter().map(|(_, k)| k.as_str()).collect();
        let mut h = Handover {
            replica: me.to_string(),
            live: live.to_vec(),
            ..Default::default()
        };
        for (alert, holder) in firing {
            match alert_owner(&alert.device.0, &holder, live, &fed) {
                Some(o) if o == me => {
                    if holder != me {
                        let (store, id, from) =
                            (self.store.clone(), alert.id.clone(), holder.clone());
                        let claimed = tokio::task::spawn_blocking(move || store.claim(&id, &from))
                            .await
                            .ok()
                            .and_then(Result::ok)
                            .unwrap_or(false);
                        if !claimed {
                            continue;
                        }
                        tracing::info!(id = %alert.id, device = %alert.device, from = %holder, "cluster: alert taken over");
                    }
                    h.take.push(alert);
                }
                _ if holder == me => h.release.push(alert.device.clone()),
                _ => {}
            }
        }
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("banwatch-{i}")).collect()
    }

    #[test]
    fn rendezvous_spreads_keys_and_moves_only_a_dead_replicas_share() {
        let three = ids(3);
        let keys: Vec<String> = (0..3000).map(|i| format!("cam-{i}")).collect();
        let before: Vec<&str> = keys
            .iter()
            .map(|k| rendezvous(k, &three).unwrap())
            .collect();
        for r in &three {
            let n = before.iter().filter(|x| **x == r).count();
            assert!((800..1200).contains(&n), "{r} got {n} of 3000");
        }
        // banwatch-1 dies: its keys move, nobody else's do.
        let two = vec![three[0].clone(), three[2].clone()];
        for (k, was) in keys.iter().zip(&before) {
            let now = rendezvous(k, &two).unwrap();
            if *was != "banwatch-1" {
                assert_eq!(now, *was, "{k} moved though its replica lives");
            }
        }
        assert_eq!(rendezvous("x", &[]), None);
    }

    #[test]
    fn alerts_of_fed_devices_follow_the_feed_others_stay_with_a_live_holder() {
        let live = ids(3);
        let fed: BTreeSet<&str> = ["cam-7"].into_iter().collect();
        let pick = rendezvous("cam-7", &live);
        assert_eq!(alert_owner("cam-7", "banwatch-9", &live, &fed), pick);
        // A device seen only in network traffic stays with the replica that raised it …
        assert_eq!(
            alert_owner("10.0.0.5", "banwatch-2", &live, &fed),
            Some("banwatch-2")
        );
        // … until that replica dies.
        assert_eq!(
            alert_owner("10.0.0.5", "banwatch-9", &live, &fed),
            rendezvous("10.0.0.5", &live)
        );
    }
}
