//! The GPU report as styled text segments, shared by `dockui gpu` and the TUI's GPU pane (which maps
//! [`Tone`] to colours), so both always show the same facts.

use super::{Field, GpuInfo, GpuSnapshot, GpuState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Heading,
    /// n/a values and secondary text.
    Dim,
    /// The GPU state is unavailable.
    Warn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    pub text: String,
    pub tone: Tone,
}

pub type ReportLine = Vec<Seg>;

fn seg(text: impl Into<String>, tone: Tone) -> Seg {
    Seg {
        text: text.into(),
        tone,
    }
}

/// What to include: the pane leaves out UUIDs to save rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detail {
    pub uuid: bool,
}

/// The report as lines of segments.
pub fn report_lines(state: &GpuState, detail: Detail) -> Vec<ReportLine> {
    match state {
        GpuState::Unavailable { reason, hint } => vec![
            vec![seg("GPU: not available", Tone::Warn)],
            vec![seg(format!("  {reason}"), Tone::Plain)],
            vec![seg("  hint: ", Tone::Dim), seg(hint.clone(), Tone::Plain)],
        ],
        GpuState::Ready(snap) => snapshot_lines(snap, detail),
    }
}

/// `dockui gpu` without `--format json`: the same report as plain text.
pub fn render_human(state: &GpuState) -> String {
    let mut out = String::new();
    for line in report_lines(state, Detail { uuid: true }) {
        for s in line {
            out.push_str(&s.text);
        }
        out.push('\n');
    }
    out
}

/// Collects n/a reasons so each is printed once, under the values, instead of inline, with the GPUs
/// it concerns when that is not all of them.
#[derive(Default)]
struct NaNotes {
    notes: Vec<NaNote>,
    /// The GPU whose fields are being shown, None for system-wide fields.
    current_gpu: Option<u32>,
}

struct NaNote {
    label: String,
    reason: String,
    gpus: Vec<u32>,
}

impl NaNotes {
    /// The inline text for a field: its value, or "n/a" (noting the reason).
    fn show<T>(&mut self, label: &str, f: &Field<T>, fmt: impl Fn(&T) -> String) -> Seg {
        match f {
            Field::Value(v) => seg(fmt(v), Tone::Plain),
            Field::Na(reason) => {
                let gpu = self.current_gpu;
                match self.notes.iter_mut().find(|n| &n.reason == reason) {
                    Some(note) => note.gpus.extend(gpu.filter(|g| !note.gpus.contains(g))),
                    None => self.notes.push(NaNote {
                        label: label.to_string(),
                        reason: reason.clone(),
                        gpus: gpu.into_iter().collect(),
                    }),
                }
                seg("n/a", Tone::Dim)
            }
        }
    }
}

impl NaNotes {
    /// A "used/total" pair: one text when both are there, a single "n/a" when neither is, and
    /// "x/n/a" style only when just one is missing.
    fn pair<T>(
        &mut self,
        (la, a): (&str, &Field<T>),
        (lb, b): (&str, &Field<T>),
        both: impl Fn(&T, &T) -> String,
        one: impl Fn(&T) -> String,
    ) -> Vec<Seg> {
        match (a, b) {
            (Field::Value(x), Field::Value(y)) => vec![seg(both(x, y), Tone::Plain)],
            (Field::Na(_), Field::Na(_)) => {
                let first = self.show(la, a, &one);
                self.show(lb, b, &one);
                vec![first]
            }
            _ => vec![
                self.show(la, a, &one),
                seg("/", Tone::Plain),
                self.show(lb, b, &one),
            ],
        }
    }
}

fn snapshot_lines(snap: &GpuSnapshot, detail: Detail) -> Vec<ReportLine> {
    let mut notes = NaNotes::default();
    let mut lines = vec![vec![
        seg("Driver ", Tone::Heading),
        notes.show("driver", &snap.driver_version, |v| v.clone()),
        seg("  CUDA ", Tone::Heading),
        notes.show("CUDA", &snap.cuda_driver_version, |(ma, mi)| {
            format!("{ma}.{mi}")
        }),
    ]];
    for gpu in &snap.gpus {
        notes.current_gpu = Some(gpu.index);
        gpu_lines(gpu, detail, &mut notes, &mut lines);
    }
    if !notes.notes.is_empty() {
        lines.push(vec![seg("n/a:", Tone::Dim)]);
        for note in notes.notes {
            let which = if note.gpus.is_empty() || note.gpus.len() == snap.gpus.len() {
                String::new()
            } else {
                let ids: Vec<String> = note.gpus.iter().map(u32::to_string).collect();
                format!(" (GPU {})", ids.join(", "))
            };
            lines.push(vec![seg(
                format!("  {}{which}: {}", note.label, note.reason),
                Tone::Dim,
            )]);
        }
    }
    lines
}

fn gpu_lines(gpu: &GpuInfo, detail: Detail, notes: &mut NaNotes, lines: &mut Vec<ReportLine>) {
    lines.push(vec![
        seg(format!("GPU {} ", gpu.index), Tone::Heading),
        notes.show("name", &gpu.name, |n| n.clone()),
        seg("  CC ", Tone::Heading),
        notes.show("compute capability", &gpu.compute_capability, |(ma, mi)| {
            format!("{ma}.{mi}")
        }),
    ]);
    let mut l = vec![seg("  util ", Tone::Dim)];
    l.push(notes.show("utilization", &gpu.utilization_pct, |u| format!("{u}%")));
    l.push(seg("  mem ", Tone::Dim));
    l.extend(notes.pair(
        ("memory", &gpu.memory_used_bytes),
        ("memory", &gpu.memory_total_bytes),
        |used, total| match (
            bytes(*used).strip_suffix(" GiB"),
            bytes(*total).strip_suffix(" GiB"),
        ) {
            (Some(u), Some(t)) => format!("{u}/{t} GiB"),
            _ => format!("{}/{}", bytes(*used), bytes(*total)),
        },
        |b| bytes(*b),
    ));
    l.push(seg("  temp ", Tone::Dim));
    l.push(notes.show("temperature", &gpu.temperature_c, |t| format!("{t}°C")));
    l.push(seg("  power ", Tone::Dim));
    l.extend(notes.pair(
        ("power", &gpu.power_w),
        ("power limit", &gpu.power_limit_w),
        |w, limit| format!("{w:.0}/{limit:.0} W"),
        |w| format!("{w:.0} W"),
    ));
    lines.push(l);
    if detail.uuid {
        lines.push(vec![
            seg("  uuid ", Tone::Dim),
            notes.show("uuid", &gpu.uuid, |u| u.clone()),
        ]);
    }
    match &gpu.processes {
        Field::Value(procs) if procs.is_empty() => {
            lines.push(vec![seg("  no compute processes", Tone::Dim)]);
        }
        Field::Value(procs) => {
            for p in procs {
                lines.push(vec![
                    seg(format!("  pid {:<8}", p.pid), Tone::Plain),
                    notes.show("process memory", &p.used_memory_bytes, |b| {
                        format!("{:>9}", bytes(*b))
                    }),
                    match (&p.container_name, &p.container) {
                        (Some(name), _) => seg(format!("  container {name}"), Tone::Plain),
                        (None, Some(id)) => seg(format!("  container {id}"), Tone::Plain),
                        (None, None) => seg("  host", Tone::Dim),
                    },
                ]);
            }
        }
        Field::Na(_) => {
            lines.push(vec![
                seg("  processes ", Tone::Dim),
                notes.show("processes", &gpu.processes, |_| String::new()),
            ]);
        }
    }
}

/// GiB with one decimal from 1 GiB up (GPU memory is sold in GiB), MiB below.
pub fn bytes(b: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    const GIB: f64 = MIB * 1024.0;
    let f = b as f64;
    if f >= GIB {
        format!("{:.1} GiB", f / GIB)
    } else {
        format!("{:.0} MiB", f / MIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::GpuProcess;

    fn gpu(index: u32) -> GpuInfo {
        GpuInfo {
            index,
            name: Field::Value("NVIDIA A100-SXM4-40GB".into()),
            uuid: Field::Value("GPU-0".into()),
            utilization_pct: Field::Value(3),
            memory_used_bytes: Field::Value(1 << 30),
            memory_total_bytes: Field::Value(40 << 30),
            temperature_c: Field::Na("not supported on this GPU (nvmlDeviceGetTemperature)".into()),
            power_w: Field::Value(55.4),
            power_limit_w: Field::Value(400.0),
            compute_capability: Field::Value((8, 0)),
            processes: Field::Value(vec![GpuProcess {
                pid: 77,
                used_memory_bytes: Field::Value(300 << 20),
                container: Some("4f1e3c2b9a8d".into()),
                container_name: None,
            }]),
        }
    }

    #[test]
    fn bytes_units() {
        assert_eq!(bytes(0), "0 MiB");
        assert_eq!(bytes(566_231_040), "540 MiB");
        assert_eq!(bytes(85_899_345_920), "80.0 GiB");
    }

    #[test]
    fn na_reason_printed_once_under_the_values() {
        let state = GpuState::Ready(GpuSnapshot {
            driver_version: Field::Value("535.104.05".into()),
            cuda_driver_version: Field::Value((12, 2)),
            gpus: vec![gpu(0), gpu(1)],
        });
        let text = render_human(&state);
        assert!(
            text.contains("GPU 1 NVIDIA A100-SXM4-40GB  CC 8.0"),
            "{text}"
        );
        assert!(text.contains("temp n/a"), "{text}");
        assert_eq!(
            text.matches("nvmlDeviceGetTemperature").count(),
            1,
            "{text}"
        );
        assert!(text.contains("container 4f1e3c2b9a8d"), "{text}");
        let mut named = state.clone();
        assert_eq!(named.container_ids(), ["4f1e3c2b9a8d"]);
        named.set_container_names(|id| (id == "4f1e3c2b9a8d").then(|| "trainer".to_string()));
        assert!(render_human(&named).contains("container trainer"));
        assert!(text.contains("power 55/400 W"), "{text}");
        assert!(text.contains("mem 1.0/40.0 GiB"), "{text}");
    }

    #[test]
    fn unavailable_has_reason_and_hint() {
        let text = render_human(&GpuState::Unavailable {
            reason: "NVML not available: x".into(),
            hint: "install it".into(),
        });
        assert_eq!(
            text,
            "GPU: not available\n  NVML not available: x\n  hint: install it\n"
        );
    }
}
