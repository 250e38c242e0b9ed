//! A per-peer budget for refused requests on the public callback port.
//!
//! Every request the callback routes refuse (a 4xx: bad or missing signature, stale timestamp,
//! wrong key, malformed or oversized body, unknown path) costs its peer one token of a bucket
//! that holds `burst` tokens and refills at `per_minute`. A peer with an empty bucket is
//! answered 429 at once — the body is not read, no handler runs, no reject row is written, the
//! connection is closed — until a token refills, so a flood of bad requests from one address
//! costs a bounded rate of handler work, reject rows and log lines. Accepted requests cost
//! nothing, and other peers have their own buckets: their callbacks are served as before.
//!
//! Throttled requests are counted, not stored: `chatvault_refused_throttled_total`, and one log
//! line per peer per minute with the count since the last one. Writing a reject row for each
//! would make the rows themselves what the flood fills.
//!
//! Behind a reverse proxy every client has the proxy's address. A peer listed in
//! `trusted_proxies` is not charged itself: the client is the last address of the
//! `X-Forwarded-For` it sends (the one the proxy appended; earlier ones are the client's to
//! forge).
//!
//! Hand-written (a few lines over a map) rather than `governor`: what is needed is a bucket
//! that only refusals drain, checked before the request and charged after its answer, with a
//! hard cap on the number of peers tracked.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Peers tracked at most; beyond it, peers whose bucket has refilled are forgotten, and if
/// none has, a new peer is not tracked (served, uncharged) until one is.
const MAX_PEERS: usize = 65_536;

/// How often a throttled peer is logged at most.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// The budget's settings (`[server] refused_burst`, `refused_per_minute`, `trusted_proxies`).
#[derive(Debug, Clone)]
pub struct RefusedBudget {
    /// Refused requests a peer may send in a row; 0 turns the throttle off.
    pub burst: u32,
    /// Refused requests per minute that refill a peer's budget.
    pub per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for RefusedBudget {
    fn default() -> Self {
        RefusedBudget {
            burst: 20,
            per_minute: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The per-peer budgets of refused requests.
pub struct Throttle {
    burst: f64,
    per_sec: f64,
    trusted_proxies: Vec<IpAddr>,
    peers: Mutex<HashMap<IpAddr, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    /// Requests throttled since the last log line about this peer.
    throttled: u64,
    logged: Option<Instant>,
}

impl Throttle {
    /// `None` when the burst is 0 (throttling off).
    pub fn new(budget: &RefusedBudget) -> Option<Throttle> {
        (budget.burst > 0).then(|| Throttle {
            burst: f64::from(budget.burst),
            per_sec: f64::from(budget.per_minute) / 60.0,
            trusted_proxies: budget.trusted_proxies.clone(),
            peers: Mutex::new(HashMap::new()),
        })
    }

    /// The address a request is charged to: the peer's, or for a trusted proxy the last one of
    /// its `X-Forwarded-For` (the proxy's own if there is none it can read).
    pub fn client(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .unwrap_or(peer)
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let earned = now.saturating_duration_since(b.at).as_secs_f64() * self.per_sec;
        b.tokens = (b.tokens + earned).min(self.burst);
        b.at = now;
    }

    /// Whether `peer` may be served now; `false` (counted and logged) while its budget of
    /// refusals is spent.
    pub fn admit(&self, peer: IpAddr) -> bool {
        let now = Instant::now();
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(b) = peers.get_mut(&peer) else {
            return true;
        };
        self.refill(b, now);
        if b.tokens >= 1.0 {
            return true;
        }
        b.throttled += 1;
        metrics::counter!("chatvault_refused_throttled_total").increment(1);
        if b.logged.is_none_or(|at| now.duration_since(at) >= LOG_EVERY) {
            tracing::warn!(
                %peer,
                throttled = b.throttled,
                "too many refused requests from one peer; answering 429 without reading them (one line per minute)"
            );
            b.throttled = 0;
            b.logged = Some(now);
        }
        false
    }

    /// Charges one refused request to `peer`.
    pub fn refused(&self, peer: IpAddr) {
        let now = Instant::now();
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if !peers.contains_key(&peer) && peers.len() >= MAX_PEERS {
            peers.retain(|_, b| {
                self.refill(b, now);
                b.tokens < self.burst
            });
            if peers.len() >= MAX_PEERS {
                return;
            }
        }
        let b = peers.entry(peer).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            throttled: 0,
            logged: None,
        });
        self.refill(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_spend_one_peers_budget_only() {
        let t = Throttle::new(&budget(3, 0)).expect("on");
        let (bad, good): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(t.admit(bad));
            t.refused(bad);
        }
        assert!(!t.admit(bad), "the fourth refusal in a row is throttled");
        assert!(t.admit(good), "another peer is served");
    }

    #[test]
    fn the_budget_refills_at_its_rate() {
        let t = Throttle::new(&budget(1, 60_000)).expect("on");
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        t.refused(peer);
        assert!(!t.admit(peer));
        std::thread::sleep(Duration::from_millis(20));
        assert!(t.admit(peer), "1000 tokens a second refill one within 20 ms");
    }

    #[test]
    fn zero_burst_is_off() {
        assert!(Throttle::new(&budget(0, 60)).is_none());
    }

    #[test]
    fn a_trusted_proxy_charges_the_address_it_appended() {
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let t = Throttle::new(&RefusedBudget {
            trusted_proxies: vec![proxy],
            ..budget(1, 0)
        })
        .expect("on");
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        assert_eq!(t.client(proxy, &h), "5.6.7.8".parse::<IpAddr>().unwrap());
        let stranger: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(
            t.client(stranger, &h),
            stranger,
            "an untrusted peer's header is ignored"
        );
        assert_eq!(t.client(proxy, &axum::http::HeaderMap::new()), proxy);
    }

    fn budget(burst: u32, per_minute: u32) -> RefusedBudget {
        RefusedBudget {
            burst,
            per_minute,
            trusted_proxies: Vec::new(),
        }
    }
}
