//! BuildKit status messages -> plain log lines in the style of `docker build --progress=plain`
//! ("#5 [2/4] RUN make", "#5 0.312 output", "#5 DONE 1.2s", "#5 CACHED"), plus step n/N for the status bar.

use bollard::moby::buildkit::v1::StatusResponse;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Renderer {
    /// Vertex digest -> its number, in order of first appearance.
    numbers: HashMap<String, usize>,
    started: HashMap<String, bool>,
    done: HashMap<String, bool>,
    /// Partial log output per vertex (BuildKit sends bytes, not lines).
    partial: HashMap<String, String>,
    pub cached_steps: u32,
}

pub use crate::classify::step_of;

pub enum Out {
    Line(String),
    Step(u32, u32),
}

impl Renderer {
    fn number(&mut self, digest: &str) -> usize {
        let next = self.numbers.len() + 1;
        *self.numbers.entry(digest.to_string()).or_insert(next)
    }

    /// One status message. It may carry a step's start, its output and its end at once: headers first,
    /// then the output, then DONE / ERROR, so a step's last output (also one without a final newline) is
    /// neither printed after its end nor lost.
    pub fn render(&mut self, status: &StatusResponse) -> Vec<Out> {
        let mut out = Vec::new();
        for v in &status.vertexes {
            let n = self.number(&v.digest);
            if (v.started.is_some() || v.cached)
                && !self.started.get(&v.digest).copied().unwrap_or(false)
            {
                self.started.insert(v.digest.clone(), true);
                out.push(Out::Line(format!("#{n} {}", v.name)));
                if let Some((a, b)) = step_of(&v.name) {
                    out.push(Out::Step(a, b));
                }
            }
        }
        for log in &status.logs {
            let n = self.number(&log.vertex);
            let buf = self.partial.entry(log.vertex.clone()).or_default();
            buf.push_str(&String::from_utf8_lossy(&log.msg));
            while let Some(pos) = buf.find('\n') {
                let line: String = buf.drain(..=pos).collect();
                out.push(Out::Line(format!(
                    "#{n} {}",
                    line.trim_end_matches(['\n', '\r'])
                )));
            }
            // Output that arrives after its step ended (a late log message) is not kept back.
            if self.done.get(&log.vertex).copied().unwrap_or(false) {
                self.flush_partial(&log.vertex.clone(), n, &mut out);
            }
        }
        for v in &status.vertexes {
            let n = self.number(&v.digest);
            if self.done.get(&v.digest).copied().unwrap_or(false) {
                continue;
            }
            if v.cached {
                self.done.insert(v.digest.clone(), true);
                if step_of(&v.name).is_some() {
                    self.cached_steps += 1;
                }
                out.push(Out::Line(format!("#{n} CACHED")));
            } else if !v.error.is_empty() {
                self.done.insert(v.digest.clone(), true);
                self.flush_partial(&v.digest, n, &mut out);
                out.push(Out::Line(format!("#{n} ERROR: {}", v.error)));
                // A cache import that fails does not fail the build: BuildKit goes on without it, and
                // the "supported" said before the build would be the last word on it.
                if let Some(source) = v.name.strip_prefix("importing cache manifest from ") {
                    out.push(Out::Line(format!(
                        "dockui: note: nothing was imported from the cache {source} ({}); the build goes on without it",
                        v.error
                    )));
                }
            } else if let (Some(s), Some(c)) = (&v.started, &v.completed) {
                self.done.insert(v.digest.clone(), true);
                self.flush_partial(&v.digest, n, &mut out);
                let secs = (c.seconds - s.seconds) as f64 + f64::from(c.nanos - s.nanos) / 1e9;
                out.push(Out::Line(format!("#{n} DONE {secs:.1}s")));
            }
        }
        out
    }

    /// The end of the stream (finished, failed or cut): output still waiting for its newline.
    pub fn finish(&mut self) -> Vec<Out> {
        let mut pending: Vec<(usize, String)> = self
            .partial
            .drain()
            .filter(|(_, rest)| !rest.is_empty())
            .map(|(digest, rest)| (self.numbers.get(&digest).copied().unwrap_or(0), rest))
            .collect();
        pending.sort();
        pending
            .into_iter()
            .map(|(n, rest)| Out::Line(format!("#{n} {rest}")))
            .collect()
    }

    fn flush_partial(&mut self, digest: &str, n: usize, out: &mut Vec<Out>) {
        if let Some(rest) = self.partial.remove(digest)
            && !rest.is_empty()
        {
            out.push(Out::Line(format!("#{n} {rest}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::moby::buildkit::v1::{Vertex, VertexLog};

    fn ts(s: i64) -> Option<bollard_buildkit_proto::google::protobuf::Timestamp> {
        Some(bollard_buildkit_proto::google::protobuf::Timestamp {
            seconds: s,
            nanos: 0,
        })
    }

    #[test]
    fn steps_parse() {
        assert_eq!(step_of("[2/4] RUN make"), Some((2, 4)));
        assert_eq!(step_of("[builder 3/7] RUN cmake --build ."), Some((3, 7)));
        assert_eq!(
            step_of("[internal] load build definition from Dockerfile"),
            None
        );
    }

    #[test]
    fn renders_plain_progress() {
        let mut r = Renderer::default();
        let v = |name: &str, started, completed, cached| Vertex {
            digest: format!("sha256:{name}"),
            name: name.into(),
            started,
            completed,
            cached,
            ..Default::default()
        };
        let mut lines = Vec::new();
        let mut take = |o: Vec<Out>| {
            for x in o {
                match x {
                    Out::Line(l) => lines.push(l),
                    Out::Step(a, b) => lines.push(format!("step {a}/{b}")),
                }
            }
        };
        take(r.render(&StatusResponse {
            vertexes: vec![v("[1/2] FROM base", None, None, true)],
            ..Default::default()
        }));
        take(r.render(&StatusResponse {
            vertexes: vec![v("[2/2] RUN make", ts(10), None, false)],
            ..Default::default()
        }));
        take(r.render(&StatusResponse {
            logs: vec![VertexLog {
                vertex: "sha256:[2/2] RUN make".into(),
                msg: b"building\npart".to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        }));
        take(r.render(&StatusResponse {
            vertexes: vec![v("[2/2] RUN make", ts(10), ts(12), false)],
            ..Default::default()
        }));
        assert_eq!(
            lines,
            [
                "#1 [1/2] FROM base",
                "step 1/2",
                "#1 CACHED",
                "#2 [2/2] RUN make",
                "step 2/2",
                "#2 building",
                "#2 part",
                "#2 DONE 2.0s"
            ]
        );
        assert_eq!(r.cached_steps, 1);
    }

    fn lines_of(o: Vec<Out>) -> Vec<String> {
        o.into_iter()
            .filter_map(|x| match x {
                Out::Line(l) => Some(l),
                Out::Step(..) => None,
            })
            .collect()
    }

    #[test]
    fn a_failed_cache_import_is_said_plainly() {
        let mut r = Renderer::default();
        let lines = lines_of(r.render(&StatusResponse {
            vertexes: vec![Vertex {
                digest: "sha256:imp".into(),
                name: "importing cache manifest from 127.0.0.1:5000/app:cache".into(),
                started: ts(1),
                completed: ts(1),
                error: "127.0.0.1:5000/app:cache: not found".into(),
                ..Default::default()
            }],
            ..Default::default()
        }));
        assert_eq!(
            lines,
            [
                "#1 importing cache manifest from 127.0.0.1:5000/app:cache",
                "#1 ERROR: 127.0.0.1:5000/app:cache: not found",
                "dockui: note: nothing was imported from the cache 127.0.0.1:5000/app:cache (127.0.0.1:5000/app:cache: not found); the build goes on without it",
            ]
        );
        // Other failing vertices get no such note.
        let lines = lines_of(r.render(&StatusResponse {
            vertexes: vec![Vertex {
                digest: "sha256:run".into(),
                name: "[2/2] RUN make".into(),
                started: ts(1),
                completed: ts(2),
                error: "exit code: 2".into(),
                ..Default::default()
            }],
            ..Default::default()
        }));
        assert!(!lines.iter().any(|l| l.contains("note")), "{lines:?}");
    }

    #[test]
    fn a_step_that_starts_logs_and_ends_in_one_message_keeps_its_output_in_order() {
        let mut r = Renderer::default();
        let vertex = |error: &str| Vertex {
            digest: "sha256:run".into(),
            name: "[2/2] RUN make".into(),
            started: ts(10),
            completed: ts(11),
            error: error.into(),
            ..Default::default()
        };
        let log = |msg: &[u8]| VertexLog {
            vertex: "sha256:run".into(),
            msg: msg.to_vec(),
            ..Default::default()
        };
        let lines = lines_of(r.render(&StatusResponse {
            vertexes: vec![vertex(
                "process \"/bin/sh -c make\" did not complete successfully: exit code: 2",
            )],
            logs: vec![log(b"make: *** [all] Error 2\nno newline at the end")],
            ..Default::default()
        }));
        assert_eq!(
            lines,
            [
                "#1 [2/2] RUN make",
                "#1 make: *** [all] Error 2",
                "#1 no newline at the end",
                "#1 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2",
            ]
        );
        // A late log line of a finished step is printed, not kept back.
        let late = lines_of(r.render(&StatusResponse {
            logs: vec![log(b"late")],
            ..Default::default()
        }));
        assert_eq!(late, ["#1 late"]);
        // Output cut off by the end of the stream comes out at the end.
        let mut r = Renderer::default();
        let mut v = vertex("");
        v.completed = None;
        r.render(&StatusResponse {
            vertexes: vec![v],
            logs: vec![log(b"downloading 42%")],
            ..Default::default()
        });
        assert_eq!(lines_of(r.finish()), ["#1 downloading 42%"]);
        assert!(r.finish().is_empty());
    }
}
