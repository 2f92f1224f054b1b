//! The fix planner for a front end's review (the TUI's Proposed diff), off the UI thread. Planning re-analyses
//! the project to a fixed point, which on a big project takes seconds; the UI sends a `PlanRequest` and folds
//! the `Planned` answer in when it comes. Latest wins: one plan runs at a time, requests that arrive meanwhile
//! collapse into the newest, and a result overtaken by a newer request is not sent.

use super::EngineEvent;
use crate::analyze::{AnalyzeOptions, Finding};
use crate::fix::plan::{self, Plan, PlanOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio::sync::{mpsc::UnboundedSender, watch};
use tokio_util::sync::CancellationToken;

/// What the review wants planned. `seq` names the request: the answer carries it back, so the front end can
/// tell the answer to its latest request from an older one.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub seq: u64,
    pub opts: AnalyzeOptions,
    /// The user's alternative per finding ("RULE file:line").
    pub choice: HashMap<String, usize>,
    /// Findings from outside the analyzer (a push's digest updates).
    pub extra: Vec<Finding>,
}

// By hand: `AnalyzeOptions` has no equality; a request is known by its number (and the user's choices).
impl PartialEq for PlanRequest {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq && self.choice == other.choice
    }
}

#[derive(Debug, Clone)]
pub struct Planned {
    pub seq: u64,
    /// The project the plan was made for.
    pub project: PathBuf,
    pub result: Result<Box<Plan>, String>,
}

/// Plan `req` for the project at `root` (every fix allowed: the user decides per hunk). Blocking.
pub fn run(root: &Path, req: &PlanRequest) -> Planned {
    let allow = |_: &Finding, _: &crate::analyze::Fix| true;
    let po = PlanOptions {
        allow: &allow,
        choice: &req.choice,
        extra: &req.extra,
    };
    Planned {
        seq: req.seq,
        project: root.to_path_buf(),
        result: plan::plan(root, &req.opts, &po)
            .map(Box::new)
            .map_err(|e| e.to_string()),
    }
}

/// The engine's planner worker, started on the first request.
#[derive(Default)]
pub struct Jobs {
    latest: Option<watch::Sender<Option<PlanRequest>>>,
}

pub fn handle(
    root: &Path,
    req: PlanRequest,
    events: &UnboundedSender<EngineEvent>,
    jobs: &mut Jobs,
    shutdown: &CancellationToken,
) {
    let tx = jobs.latest.get_or_insert_with(|| {
        spawn_worker(
            root.to_path_buf(),
            events.clone(),
            shutdown.child_token(),
            run,
        )
    });
    // Replaces a request the worker has not started yet: requests never queue up.
    tx.send_replace(Some(req));
}

/// One worker: waits for the newest request, plans it on a blocking thread, and sends the answer unless a newer
/// request came in meanwhile (then it plans that one). `planner` is `run`; tests pass a slow stand-in.
pub fn spawn_worker(
    root: PathBuf,
    events: UnboundedSender<EngineEvent>,
    cancel: CancellationToken,
    planner: fn(&Path, &PlanRequest) -> Planned,
) -> watch::Sender<Option<PlanRequest>> {
    let (tx, mut rx) = watch::channel(None::<PlanRequest>);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { break },
                _ = cancel.cancelled() => break,
            }
            let Some(req) = rx.borrow_and_update().clone() else {
                continue;
            };
            let root = root.clone();
            // A thread of its own, not the runtime's blocking pool: dropping the runtime waits for blocking
            // tasks, so quitting during a long plan would wait for it; a plain thread ends with the process.
            let (done, job) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let _ = done.send(planner(&root, &req));
            });
            let planned = tokio::select! {
                p = job => p,
                _ = cancel.cancelled() => break,
            };
            // The planner panicked: the next request tries again.
            let Ok(planned) = planned else { continue };
            if rx.has_changed().unwrap_or(false) {
                continue;
            }
            if events
                .send(EngineEvent::Planned(Box::new(planned)))
                .is_err()
            {
                break;
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn req(seq: u64) -> PlanRequest {
        PlanRequest {
            seq,
            opts: AnalyzeOptions::default(),
            choice: HashMap::new(),
            extra: Vec::new(),
        }
    }

    /// A planner stand-in that takes its time, as a big project's does.
    fn slow(root: &Path, req: &PlanRequest) -> Planned {
        std::thread::sleep(Duration::from_millis(300));
        run(root, req)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_arriving_while_one_plans_collapse_into_the_newest_and_only_it_is_answered() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM python:3.11\nRUN pip install x\n",
        )
        .unwrap();
        let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let tx = spawn_worker(dir.path().to_path_buf(), ev_tx, cancel.clone(), slow);
        tx.send_replace(Some(req(1)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        // 1 is planning now; 2 and 3 come in while it does: 2 is never planned, 1's answer is not sent.
        tx.send_replace(Some(req(2)));
        tx.send_replace(Some(req(3)));
        let first = tokio::time::timeout(Duration::from_secs(20), ev_rx.recv())
            .await
            .expect("an answer")
            .unwrap();
        let EngineEvent::Planned(p) = first else {
            panic!("not a plan: {first:?}")
        };
        assert_eq!(p.seq, 3);
        assert_eq!(p.project, dir.path());
        let plan = p.result.as_ref().expect("planned");
        assert!(
            plan.proposals
                .iter()
                .any(|p| p.file.ends_with("Dockerfile")),
            "the real planner ran: {:?}",
            plan.steps
        );
        // Nothing else comes: 1 and 2 were overtaken.
        assert!(
            tokio::time::timeout(Duration::from_millis(700), ev_rx.recv())
                .await
                .is_err()
        );
        cancel.cancel();
    }
}
