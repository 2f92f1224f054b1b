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
            } else if let (Some(s), Some(c)) = (&v.started, &v.completed) {
                self.done.insert(v.digest.clone(), true);
                self.flush_partial(&v.digest, n, &mut out);
                let secs = (c.seconds - s.seconds) as f64 + f64::from(c.nanos - s.nanos) / 1e9;
                out.push(Out::Line(format!("#{n} DONE {secs:.1}s")));
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
        }
        out
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
}
