//! The retry decision, as pure functions: after a failed attempt, may fixes be applied, and then retry, ask
//! the user, or stop (and why). Retrying the same input gives the same failure, so a retry happens only
//! after a fix changed the input (or a transient failure's backoff ran out), and never past `max_attempts`.
//! The build loop (`engine::build`) carries out what these decide; the tests below and in `build.rs` drive
//! the loop on fake builders.

use crate::analyze::FixLevel;

/// What the user allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// The most invasive fixes the build may apply by itself; None: none (`auto_fix = "off"`).
    pub auto_fix: Option<FixLevel>,
    /// Someone can be asked (the TUI); headless runs cannot.
    pub can_ask: bool,
}

/// What the failed attempt left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    /// 1-based.
    pub attempt: u32,
    pub max_attempts: u32,
    /// A failure signature matched.
    pub diagnosed: bool,
    /// The diagnosis names rules whose fixes the user could review.
    pub fixes_known: bool,
    /// The engine failed (unreachable, the context upload stalled), not the build.
    pub engine_error: bool,
    /// A failure fix was proposed for this failure (a network retry, noninteractive apt), applied or not.
    pub failure_fix_known: bool,
    /// Fixes applied after this attempt (static fixes written, a failure fix written or waited out).
    pub applied: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Retry,
    /// Show the fixes and wait for the user's answer (`after_answer`).
    Ask,
    Stop(Stop),
}

/// Why the build stops retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    NoAttemptsLeft,
    /// No failure signature matched: dockui knows no cure.
    Undiagnosed,
    /// Fixes are known, but auto_fix does not allow applying them and nobody can be asked.
    NeedsReview,
    /// Diagnosed, but no fix changed the input.
    NothingChanged,
    /// The user answered no.
    Declined,
    Cancelled,
    /// The engine failed, not the Dockerfile: the same input is not the problem.
    EngineError,
}

impl Stop {
    /// One line for the build log.
    pub fn explain(self) -> &'static str {
        match self {
            Stop::NoAttemptsLeft => {
                "no attempts left (raise --max-attempts / [build] max_attempts)"
            }
            Stop::Undiagnosed => "the failure matches no known signature, so no fix is known",
            Stop::NeedsReview => {
                "fixes are known but auto_fix does not allow applying them: review them (dockui fix, or the TUI) or build with --auto-fix"
            }
            Stop::NothingChanged => {
                "no fix dockui can apply by itself changed the input, and the same input fails the same way: the diagnosis above says what to change"
            }
            Stop::Declined => "you chose not to retry",
            Stop::EngineError => {
                "the engine failed, not the build: the error above says what to do; build again once it is fixed"
            }
            Stop::Cancelled => "cancelled",
        }
    }
}

/// The most invasive fixes that may be applied by themselves before the next attempt; None when none may
/// (auto_fix off, or no attempt left to use them).
pub fn fix_level(attempt: u32, max_attempts: u32, policy: &Policy) -> Option<FixLevel> {
    (attempt < max_attempts)
        .then_some(policy.auto_fix)
        .flatten()
}

/// After the fixes were applied (or not): retry, ask, or stop.
pub fn decide(f: &Facts, policy: &Policy) -> Decision {
    if f.engine_error {
        return Decision::Stop(Stop::EngineError);
    }
    if f.attempt >= f.max_attempts {
        // "Raise --max-attempts" only where another attempt could go differently: a fix is known or was
        // applied. Otherwise the real reason (no signature, nothing to change) is what helps.
        return Decision::Stop(if f.fixes_known || f.failure_fix_known || f.applied > 0 {
            Stop::NoAttemptsLeft
        } else if !f.diagnosed {
            Stop::Undiagnosed
        } else {
            Stop::NothingChanged
        });
    }
    if f.applied > 0 {
        return Decision::Retry;
    }
    if !f.diagnosed {
        return Decision::Stop(Stop::Undiagnosed);
    }
    match (f.fixes_known, policy.auto_fix, policy.can_ask) {
        (true, None, true) => Decision::Ask,
        (true, None, false) => Decision::Stop(Stop::NeedsReview),
        _ => Decision::Stop(Stop::NothingChanged),
    }
}

/// The user's answer to `Ask`: `Some(true)` retries, `Some(false)` stops, None (no answer: the question
/// went away) is a cancel when the build was cancelled, else a no.
pub fn after_answer(answer: Option<bool>, cancelled: bool) -> Decision {
    match answer {
        Some(true) => Decision::Retry,
        Some(false) => Decision::Stop(Stop::Declined),
        None if cancelled => Decision::Stop(Stop::Cancelled),
        None => Decision::Stop(Stop::Declined),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAFE: Policy = Policy {
        auto_fix: Some(FixLevel::Safe),
        can_ask: false,
    };
    const OFF_TUI: Policy = Policy {
        auto_fix: None,
        can_ask: true,
    };
    const OFF_HEADLESS: Policy = Policy {
        auto_fix: None,
        can_ask: false,
    };

    fn facts(attempt: u32, diagnosed: bool, fixes_known: bool, applied: usize) -> Facts {
        Facts {
            attempt,
            max_attempts: 3,
            diagnosed,
            fixes_known,
            failure_fix_known: false,
            engine_error: false,
            applied,
        }
    }

    #[test]
    fn a_fix_that_changed_the_input_retries_until_attempts_run_out() {
        assert_eq!(decide(&facts(1, true, true, 1), &SAFE), Decision::Retry);
        assert_eq!(decide(&facts(2, true, true, 2), &SAFE), Decision::Retry);
        assert_eq!(
            decide(&facts(3, true, true, 1), &SAFE),
            Decision::Stop(Stop::NoAttemptsLeft)
        );
    }

    #[test]
    fn nothing_applied_never_retries_by_itself() {
        assert_eq!(
            decide(&facts(1, true, true, 0), &SAFE),
            Decision::Stop(Stop::NothingChanged)
        );
        assert_eq!(
            decide(&facts(1, false, false, 0), &SAFE),
            Decision::Stop(Stop::Undiagnosed)
        );
    }

    #[test]
    fn auto_fix_off_asks_in_the_tui_and_stops_headless() {
        assert_eq!(decide(&facts(1, true, true, 0), &OFF_TUI), Decision::Ask);
        assert_eq!(
            decide(&facts(1, true, true, 0), &OFF_HEADLESS),
            Decision::Stop(Stop::NeedsReview)
        );
        // Nothing to review: no question.
        assert_eq!(
            decide(&facts(1, true, false, 0), &OFF_TUI),
            Decision::Stop(Stop::NothingChanged)
        );
        // The last attempt: no question either.
        assert_eq!(
            decide(&facts(3, true, true, 0), &OFF_TUI),
            Decision::Stop(Stop::NoAttemptsLeft)
        );
    }

    #[test]
    fn the_last_attempt_names_more_attempts_only_where_they_could_help() {
        // Fires: a known fix waits for an attempt.
        assert_eq!(
            decide(&facts(3, true, true, 0), &SAFE),
            Decision::Stop(Stop::NoAttemptsLeft)
        );
        // Must not: nothing known to change (a cache type the builder lacks), or no signature at all.
        assert_eq!(
            decide(&facts(3, true, false, 0), &SAFE),
            Decision::Stop(Stop::NothingChanged)
        );
        assert_eq!(
            decide(&facts(3, false, false, 0), &SAFE),
            Decision::Stop(Stop::Undiagnosed)
        );
        // Fires: a failure fix (a network retry) was proposed but no attempt is left for it.
        let mut f = facts(3, true, false, 0);
        f.failure_fix_known = true;
        assert_eq!(decide(&f, &SAFE), Decision::Stop(Stop::NoAttemptsLeft));
        // An engine failure is neither a missing signature nor a matter of attempts, on any attempt.
        for attempt in [1, 3] {
            let mut f = facts(attempt, false, false, 0);
            f.engine_error = true;
            assert_eq!(decide(&f, &SAFE), Decision::Stop(Stop::EngineError));
        }
    }

    #[test]
    fn the_answer_decides_and_a_cancel_is_a_cancel() {
        assert_eq!(after_answer(Some(true), false), Decision::Retry);
        assert_eq!(
            after_answer(Some(false), false),
            Decision::Stop(Stop::Declined)
        );
        assert_eq!(after_answer(None, true), Decision::Stop(Stop::Cancelled));
        assert_eq!(after_answer(None, false), Decision::Stop(Stop::Declined));
    }

    #[test]
    fn fixes_may_be_applied_only_with_an_attempt_left_and_auto_fix_on() {
        assert_eq!(fix_level(1, 3, &SAFE), Some(FixLevel::Safe));
        assert_eq!(fix_level(3, 3, &SAFE), None);
        assert_eq!(fix_level(1, 3, &OFF_TUI), None);
        assert_eq!(fix_level(1, 1, &SAFE), None);
    }
}
