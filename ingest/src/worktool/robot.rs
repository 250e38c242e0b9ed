//! What the archive knows about the robot, folded into one connector status.
//!
//! Three sources say whether WorkTool callbacks reach the archive, and each alone would
//! overwrite the others' state: whether the robot is online (its online/offline callbacks and
//! the `robotInfo/online` poll, seed 003 §4), whether its settings forward every message
//! (`robotInfo/get`: `openCallback`, `replyAll`, seed 003 §3), and whether the receiver is
//! refusing callbacks (spool full). [`RobotView`] keeps all three and reports the one status
//! they mean together, worst first:
//!
//! 1. refusing callbacks → `disconnected`;
//! 2. robot offline → `robot_offline`;
//! 3. `openCallback` 0 → `callback_off`;
//! 4. `replyAll` not 1 → `mentions_only`;
//! 5. robot online → `robot_online`, else `connected`.
//!
//! Every status from 1 to 4 is a gap in `audit --gaps`. What could not be read (API down) is
//! unknown and changes nothing: the last answer stands, and no answer at all is no gap.

use std::sync::Mutex;

use proto::ConnectorStatus;

use super::api::RobotSettings;
use crate::state::StateReporter;

#[derive(Debug, Default)]
struct Known {
    online: Option<bool>,
    settings: Option<RobotSettings>,
    refusing: Option<String>,
}

/// Shared between the callback route and the pollers.
#[derive(Debug, Default)]
pub struct RobotView {
    known: Mutex<Known>,
}

impl RobotView {
    /// Nothing known yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        // Every critical section is a field assignment or a read; a poisoned lock holds
        // valid fields.
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The robot reported (or was polled) online / offline.
    pub fn set_online(&self, online: bool) {
        self.lock().online = Some(online);
    }

    /// `robotInfo/get` answered.
    pub fn set_settings(&self, s: RobotSettings) {
        self.lock().settings = Some(s);
    }

    /// The receiver refuses callbacks (`Some(why)`) or takes them again (`None`).
    pub fn set_refusing(&self, why: Option<String>) {
        self.lock().refusing = why;
    }

    /// The status the known facts mean, with the reason.
    pub fn status(&self) -> (ConnectorStatus, String) {
        let k = self.lock();
        if let Some(why) = &k.refusing {
            return (ConnectorStatus::Disconnected, why.clone());
        }
        if k.online == Some(false) {
            return (ConnectorStatus::RobotOffline, "the robot is offline".into());
        }
        if let Some(s) = k.settings {
            if s.callbacks_off() {
                return (
                    ConnectorStatus::CallbackOff,
                    "robotInfo/get: openCallback = 0, WorkTool sends no message callbacks; \
                     turn the robot's message callback on"
                        .into(),
                );
            }
            if s.mentions_only() {
                return (
                    ConnectorStatus::MentionsOnly,
                    format!(
                        "robotInfo/get: replyAll = {}, WorkTool calls back only messages that \
                         @-mention the robot; set 回调所有消息 (replyAll = 1) to archive every message",
                        s.reply_all.unwrap_or_default()
                    ),
                );
            }
        }
        match k.online {
            Some(true) => (ConnectorStatus::RobotOnline, "the robot is online".into()),
            _ => (ConnectorStatus::Connected, "callback route ready".into()),
        }
    }

    /// Records the current status (only a change becomes an event).
    pub async fn report(&self, state: &StateReporter) {
        let (status, detail) = self.status();
        state.set(status, Some(detail)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(open: i64, all: i64) -> RobotSettings {
        RobotSettings {
            open_callback: Some(open),
            reply_all: Some(all),
        }
    }

    #[test]
    fn the_worst_known_fact_wins() {
        let v = RobotView::new();
        assert_eq!(v.status().0, ConnectorStatus::Connected);
        v.set_online(true);
        assert_eq!(v.status().0, ConnectorStatus::RobotOnline);
        v.set_settings(settings(1, 0));
        assert_eq!(v.status().0, ConnectorStatus::MentionsOnly);
        assert!(v.status().1.contains("replyAll = 0"));
        v.set_settings(settings(0, 0));
        assert_eq!(v.status().0, ConnectorStatus::CallbackOff);
        v.set_online(false);
        assert_eq!(v.status().0, ConnectorStatus::RobotOffline);
        v.set_refusing(Some("spool full".into()));
        assert_eq!(v.status().0, ConnectorStatus::Disconnected);
        v.set_refusing(None);
        v.set_online(true);
        v.set_settings(settings(1, 1));
        assert_eq!(v.status().0, ConnectorStatus::RobotOnline);
        for s in [ConnectorStatus::MentionsOnly, ConnectorStatus::CallbackOff] {
            assert!(!s.is_up(), "{s} must count as a gap");
        }
    }
}
