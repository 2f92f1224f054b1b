//! Benchmark of the Build log pane's model and of drawing the whole UI (issue 5 point 10).
//! Not a timed test: it prints figures and the targets; nothing fails when a target is missed.
//!
//!   (a) ingestion: lines/s of `App::update(Msg::Engine(EngineEvent::BuildLog(batch)))`, batches of 2000
//!       realistic build lines (the engine's BATCH_MAX), while the window fills and once it is full (each
//!       batch then also drops 2000 old lines). Target >= 1,000,000 lines/s.
//!   (b) memory: bytes per retained line, from a counting global allocator (live bytes of the App after
//!       the lines went in, minus before, over the lines it keeps). `LOG_WINDOW` bounds what is kept.
//!   (c) drawing: one frame of the whole UI, `Terminal<TestBackend>` 160x48, the Build log pane focused and
//!       following, after 1,000,000 lines were pushed. Target <= 2 ms.
//!
//! Usage: cargo run --release --example bench_log [-- --lines N] [--frames N] [--quick]

use dockui::analyze::{AnalyzeOptions, analyze_project};
use dockui::engine::EngineEvent;
use dockui::tui::app::{App, LOG_WINDOW, Msg, Pane};
use dockui::tui::{theme::Theme, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---- counting allocator: live bytes (as requested by the program) and the number of allocations ----

struct Counting;
/// Bytes the program asked for and has not freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The same, as the system allocator hands it out (malloc_usable_size: size classes and rounding included,
/// the allocator's own per-chunk header of 8 bytes not included).
static USABLE: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn usable(ptr: *mut u8) -> usize {
    if ptr.is_null() {
        0
    } else {
        // SAFETY: ptr came from the system allocator (System uses malloc for these alignments).
        unsafe { libc::malloc_usable_size(ptr.cast()) }
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        USABLE.fetch_add(usable(p), Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        USABLE.fetch_sub(usable(ptr), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        USABLE.fetch_add(usable(p), Ordering::Relaxed);
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = usable(ptr);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            USABLE.fetch_add(usable(p), Ordering::Relaxed);
            USABLE.fetch_sub(old, Ordering::Relaxed);
        }
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> (usize, usize) {
    (LIVE.load(Ordering::Relaxed), USABLE.load(Ordering::Relaxed))
}

// ---- realistic build output ----

/// A small deterministic PRNG (xorshift64*), so every run pushes the same lines.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PKGS: &[&str] = &[
    "torch",
    "numpy",
    "transformers",
    "accelerate",
    "safetensors",
    "tokenizers",
    "nvidia-cublas-cu12",
    "nvidia-cudnn-cu12",
    "triton",
    "fastapi",
    "uvicorn",
    "pydantic",
    "sentencepiece",
    "flash-attn",
];

/// One line as the legacy builder, BuildKit's plain progress, pip, apt and a compiler print them.
fn build_line(rng: &mut Rng, n: u64) -> String {
    let pkg = PKGS[rng.below(PKGS.len() as u64) as usize];
    let (a, b, c) = (rng.below(10), rng.below(30), rng.below(200));
    match rng.below(12) {
        0 => format!(
            "Step {}/{} : RUN pip install --no-cache-dir -r requirements.txt",
            a + 1,
            12
        ),
        1 => format!(" ---> Running in {:012x}", rng.next() & 0xffff_ffff_ffff),
        2 => format!("Collecting {pkg}=={a}.{b}.{c}"),
        3 => format!(
            "  Downloading {pkg}-{a}.{b}.{c}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl ({}.{} MB)",
            c + 1,
            b
        ),
        4 => format!(
            "     ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ {}.{}/{}.{} MB {}.{} MB/s eta 0:00:0{}",
            c,
            a,
            c + 1,
            b,
            a + 20,
            b,
            a
        ),
        5 => format!(
            "Requirement already satisfied: {pkg}>={a}.{b} in /opt/conda/lib/python3.11/site-packages (from -r requirements.txt (line {}))",
            c % 40 + 1
        ),
        6 => format!(
            "Get:{} http://archive.ubuntu.com/ubuntu jammy/main amd64 lib{pkg} amd64 {a}.{b}-{c}ubuntu0.{a} [{} kB]",
            n % 300,
            c * 7
        ),
        7 => format!("Setting up lib{pkg}{a} ({a}.{b}.{c}-1ubuntu1) ..."),
        8 => format!(
            "#{} {}.{:03} gcc -pthread -B /opt/conda/compiler_compat -Wno-unused-result -Wsign-compare -DNDEBUG -fwrapv -O2 -Wall -fPIC -I/opt/conda/include/python3.11 -c csrc/{pkg}/kernel_{c}.cu -o build/temp.linux-x86_64-cpython-311/kernel_{c}.o",
            a + 5,
            b,
            c
        ),
        9 => format!(
            "#{} {}.{:03} Building wheel for {pkg} (setup.py): finished with status 'done'",
            a + 5,
            b,
            c
        ),
        10 => format!(
            "Successfully installed {pkg}-{a}.{b}.{c} filelock-3.{b}.0 fsspec-2024.{a}.0 jinja2-3.1.{a} networkx-3.{a}"
        ),
        _ => format!("line {n}: {a}{b}{c}"),
    }
}

fn batches(rng: &mut Rng, next: &mut u64, count: usize, size: usize) -> Vec<Vec<String>> {
    (0..count)
        .map(|_| {
            (0..size)
                .map(|_| {
                    *next += 1;
                    // As the engine makes them (`trim_end_matches(..).to_string()`): no spare capacity.
                    build_line(rng, *next).as_str().to_owned()
                })
                .collect()
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return 0.0;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn fmt_int(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

/// An App as the user sees it during a build: engine ready, the demo's analysis, a running attempt.
fn busy_app() -> App {
    let mut app = App::new(demo_dir(), "unix:///var/run/docker.sock".into());
    app.update(Msg::Engine(EngineEvent::Engine(Ok(
        dockui::docker::EngineInfo {
            endpoint: "unix:///var/run/docker.sock".into(),
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            ..Default::default()
        },
    ))));
    if let Ok(a) = analyze_project(&demo_dir(), &AnalyzeOptions::default()) {
        app.update(Msg::Engine(EngineEvent::Analysis(Ok(a))));
    }
    app.update(Msg::Engine(EngineEvent::BuildStarted {
        build_id: "20261123T120000Z-1-0".into(),
        attempt: 1,
        max_attempts: 3,
        // Only read when the view pages back past the window, which this benchmark does not do.
        log_path: std::env::temp_dir().join("dockui-bench-log-attempt-1.log"),
        platform: None,
    }));
    app.update(Msg::Engine(EngineEvent::BuildStep {
        current: 4,
        total: 12,
    }));
    app.focus = Pane::Log;
    app
}

/// Frames drawn while a build streams: a new batch of 2000 lines before every frame (the batch is not timed).
fn stream_frames(
    app: &mut App,
    theme: &Theme,
    term: &mut Terminal<TestBackend>,
    rng: &mut Rng,
    next: &mut u64,
    n: usize,
) -> Vec<f64> {
    let extra = batches(rng, next, n, 2000);
    let mut out = Vec::with_capacity(n);
    for batch in extra {
        app.update(Msg::Engine(EngineEvent::BuildLog(batch)));
        let t = Instant::now();
        term.draw(|f| view::draw(app, theme, f)).unwrap();
        out.push(t.elapsed().as_secs_f64());
    }
    out
}

fn main() {
    let mut total_lines: u64 = 1_000_000;
    let mut frames = 500usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lines" => {
                total_lines = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(total_lines)
            }
            "--frames" => frames = args.next().and_then(|v| v.parse().ok()).unwrap_or(frames),
            "--quick" => {
                total_lines = 200_000;
                frames = 100;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    const BATCH: usize = 2000;
    // Batches are made ahead of time in chunks (outside the timed region); only update() is timed.
    const CHUNK: usize = 50;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut next = 0u64;

    println!("== log ingestion: App::update(Msg::Engine(EngineEvent::BuildLog(batch of {BATCH})))");
    println!(
        "   LOG_WINDOW = {LOG_WINDOW} lines kept in memory; {} lines pushed",
        fmt_int(total_lines as f64)
    );

    let mut app = busy_app();
    let n_batches = total_lines.div_ceil(BATCH as u64) as usize;
    // Made before the baseline, so only what the App keeps counts.
    let mut fill = Vec::with_capacity(n_batches); // seconds per batch while the window fills
    let mut steady = Vec::with_capacity(n_batches); // seconds per batch once it is full
    let before = live();
    let mut update_allocs = 0usize;
    let mut timed = Duration::ZERO;
    let mut pushed = 0u64;
    let mut bytes_pushed = 0u64;
    while pushed < total_lines {
        let chunk = batches(&mut rng, &mut next, CHUNK, BATCH);
        bytes_pushed += chunk.iter().flatten().map(|l| l.len() as u64).sum::<u64>();
        for batch in chunk {
            let full = app.log.lines.len() >= LOG_WINDOW;
            let a0 = ALLOCS.load(Ordering::Relaxed);
            let t = Instant::now();
            app.update(Msg::Engine(EngineEvent::BuildLog(batch)));
            let dt = t.elapsed();
            update_allocs += ALLOCS.load(Ordering::Relaxed) - a0;
            timed += dt;
            if full {
                steady.push(dt.as_secs_f64())
            } else {
                fill.push(dt.as_secs_f64())
            }
            pushed += BATCH as u64;
        }
    }
    let after = live();
    let retained_bytes = after.0 as i64 - before.0 as i64;
    let retained_usable = after.1 as i64 - before.1 as i64;
    let kept = app.log.lines.len();
    let kept_text: usize = app.log.lines.iter().map(|l| l.len()).sum();
    let kept_cap: usize = app.log.lines.iter().map(|l| l.capacity()).sum();

    let overall = pushed as f64 / timed.as_secs_f64();
    let fill_med = if fill.is_empty() {
        f64::NAN
    } else {
        BATCH as f64 / median(&mut fill)
    };
    let steady_med = BATCH as f64 / median(&mut steady);
    let steady_p90 = BATCH as f64 / pct(&mut steady, 0.9);
    println!(
        "   average line: {:.0} bytes of text ({} MB pushed)",
        bytes_pushed as f64 / pushed as f64,
        bytes_pushed / 1_000_000
    );
    println!(
        "   filling the window:  {} lines/s (median of {} batches)",
        fmt_int(fill_med),
        fill.len()
    );
    println!(
        "   window full:         {} lines/s (median of {} batches; slowest 10%: < {} lines/s)",
        fmt_int(steady_med),
        steady.len(),
        fmt_int(steady_p90)
    );
    println!(
        "   overall:             {} lines/s ({:.1} ms in update for {} lines)",
        fmt_int(overall),
        timed.as_secs_f64() * 1e3,
        fmt_int(pushed as f64)
    );
    println!(
        "   allocations inside update: {update_allocs} over {} batches = {:.2} per line pushed",
        fill.len() + steady.len(),
        update_allocs as f64 / pushed as f64
    );
    println!(
        "   ingestion: {} lines/s (window full, median) - target >= 1,000,000: {}",
        fmt_int(steady_med),
        if steady_med >= 1_000_000.0 {
            "met"
        } else {
            "MISSED"
        }
    );

    println!("== memory per retained line (counting global allocator)");
    println!(
        "   retained: {} lines ({} dropped from memory, still in the attempt's log file)",
        fmt_int(kept as f64),
        fmt_int(app.log.dropped as f64)
    );
    println!(
        "   live bytes held by the log: {} ({:.1} MB) = {:.1} bytes per retained line",
        fmt_int(retained_bytes as f64),
        retained_bytes as f64 / 1e6,
        retained_bytes as f64 / kept as f64
    );
    println!(
        "   as the system allocator rounds it (malloc_usable_size): {} = {:.1} bytes per retained line (+8 B malloc header per allocation)",
        fmt_int(retained_usable as f64),
        retained_usable as f64 / kept as f64
    );
    println!(
        "   of which: text {:.1} B/line, String capacity slack {:.1} B/line, VecDeque slots {} x {} B = {:.1} B/line",
        kept_text as f64 / kept as f64,
        (kept_cap - kept_text) as f64 / kept as f64,
        app.log.lines.capacity(),
        std::mem::size_of::<String>(),
        (app.log.lines.capacity() * std::mem::size_of::<String>()) as f64 / kept as f64
    );

    println!(
        "== drawing one frame: Terminal<TestBackend> 160x48, Build log focused and following, after {} lines",
        fmt_int(pushed as f64)
    );
    let theme = Theme {
        mono: false,
        light: false,
    };
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("test terminal");
    // Warm up: the first frame allocates the buffers.
    for _ in 0..20 {
        term.draw(|f| view::draw(&app, &theme, f)).unwrap();
    }
    let screen = format!("{:?}", term.backend().buffer());
    assert!(screen.contains("Build log"), "the frame shows the log pane");

    // Static: nothing changed since the last frame (the diff sends nothing).
    let mut t_static = Vec::with_capacity(frames);
    for _ in 0..frames {
        let t = Instant::now();
        term.draw(|f| view::draw(&app, &theme, f)).unwrap();
        t_static.push(t.elapsed().as_secs_f64());
    }
    // Streaming: a new batch of 2000 lines before every frame (not timed), so the log pane's cells change.
    let mut t_stream = stream_frames(
        &mut app,
        &theme,
        &mut term,
        &mut rng,
        &mut next,
        frames.min(200),
    );
    // Scrolled back to the middle of the window (not following).
    let mut t_scrolled = Vec::with_capacity(frames);
    for i in 0..frames {
        app.log.end = Some(app.log.lines.len() / 2 + (i % 50));
        let t = Instant::now();
        term.draw(|f| view::draw(&app, &theme, f)).unwrap();
        t_scrolled.push(t.elapsed().as_secs_f64());
    }
    app.log.follow();
    // Mono theme (NO_COLOR), streaming.
    let mono = Theme {
        mono: true,
        light: false,
    };
    let mut t_mono = stream_frames(
        &mut app,
        &mono,
        &mut term,
        &mut rng,
        &mut next,
        frames.min(200),
    );
    // A search typed in the log pane (`/`): matches highlighted in the visible rows.
    app.log.search = Some(regex::Regex::new("torch|nvcc").unwrap());
    let mut t_search = stream_frames(
        &mut app,
        &theme,
        &mut term,
        &mut rng,
        &mut next,
        frames.min(200),
    );
    // The same search as a filter (only matching lines shown).
    app.log.filter = true;
    let mut t_filter = stream_frames(
        &mut app,
        &theme,
        &mut term,
        &mut rng,
        &mut next,
        frames.min(200),
    );
    app.log.filter = false;
    app.log.search = None;
    // Wrap on.
    app.log.wrap = true;
    let mut t_wrap = stream_frames(
        &mut app,
        &theme,
        &mut term,
        &mut rng,
        &mut next,
        frames.min(200),
    );
    app.log.wrap = false;
    let ms = |v: &mut Vec<f64>| (median(v) * 1e3, pct(v, 0.99) * 1e3);
    let (s_med, s_p99) = ms(&mut t_static);
    let (st_med, st_p99) = ms(&mut t_stream);
    let (sc_med, sc_p99) = ms(&mut t_scrolled);
    let (m_med, m_p99) = ms(&mut t_mono);
    let (se_med, se_p99) = ms(&mut t_search);
    let (fi_med, fi_p99) = ms(&mut t_filter);
    let (wr_med, wr_p99) = ms(&mut t_wrap);
    println!(
        "   following, unchanged screen:      median {s_med:.3} ms, p99 {s_p99:.3} ms ({frames} frames)"
    );
    println!(
        "   following, new lines every frame: median {st_med:.3} ms, p99 {st_p99:.3} ms ({} frames)",
        t_stream.len()
    );
    println!(
        "   scrolled to mid-window:           median {sc_med:.3} ms, p99 {sc_p99:.3} ms ({frames} frames)"
    );
    println!(
        "   mono theme, new lines every frame: median {m_med:.3} ms, p99 {m_p99:.3} ms ({} frames)",
        t_mono.len()
    );
    println!(
        "   search highlighted, new lines:    median {se_med:.3} ms, p99 {se_p99:.3} ms ({} frames)",
        t_search.len()
    );
    println!(
        "   search as a filter, new lines:    median {fi_med:.3} ms, p99 {fi_p99:.3} ms ({} frames)",
        t_filter.len()
    );
    println!(
        "   wrap on, new lines:               median {wr_med:.3} ms, p99 {wr_p99:.3} ms ({} frames)",
        t_wrap.len()
    );
    let worst = st_med.max(s_med);
    println!(
        "   frame: {worst:.3} ms (following, median) - target <= 2 ms: {}",
        if worst <= 2.0 { "met" } else { "MISSED" }
    );
    let worst_any = [s_med, st_med, sc_med, m_med, se_med, fi_med, wr_med]
        .into_iter()
        .fold(0.0, f64::max);
    println!(
        "   slowest case (median): {worst_any:.3} ms - {}",
        if worst_any <= 2.0 {
            "within 2 ms"
        } else {
            "OVER 2 ms"
        }
    );
}
