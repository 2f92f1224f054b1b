//! The Image pane: what the last built image holds. Efficiency and wasted bytes first, then each cache left in
//! a layer tied to the rule whose fix keeps it out and the Dockerfile line that made the layer, then every
//! layer with its size and instruction, the largest files and the wasted paths. The inspection runs in the
//! engine (`image_job`) after a successful build or on `i`; the pane scrolls and draws only the visible rows.

use super::Handled;
use crate::engine::Command;
use crate::engine::image_job::{ImageCommand, ImageEvent, ImageView};
use crate::image::layers::HiddenBy;
use crate::image::render::human_bytes;
use crate::tui::app::{App, BuildState};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use ratatui::text::Line;
use std::cell::Cell;

#[derive(Debug, Default)]
pub enum ImageState {
    #[default]
    Empty,
    Inspecting(String),
    /// Not inspected after the build: larger than `[ui] image_auto_inspect_max_mb` (bytes); `i` inspects it.
    TooLarge {
        image: String,
        bytes: u64,
    },
    Ready(Box<ImageView>),
    Failed {
        image: String,
        error: String,
    },
}

#[derive(Debug, Default)]
pub struct ImagePane {
    pub state: ImageState,
    /// First row shown.
    pub scroll: usize,
    /// The pane's rows at the last frame, for paging and for keeping the last page full.
    pub viewport: Cell<usize>,
}

impl ImagePane {
    /// The image being inspected or shown.
    pub fn image(&self) -> Option<&str> {
        match &self.state {
            ImageState::Empty => None,
            ImageState::Inspecting(i) => Some(i),
            ImageState::TooLarge { image, .. } => Some(image),
            ImageState::Ready(v) => Some(&v.report.image),
            ImageState::Failed { image, .. } => Some(image),
        }
    }

    pub fn on_event(&mut self, ev: ImageEvent) {
        match ev {
            ImageEvent::Inspecting(image) => {
                self.state = ImageState::Inspecting(image);
                self.scroll = 0;
            }
            ImageEvent::TooLarge { image, bytes } => {
                if matches!(&self.state, ImageState::Inspecting(i) if *i != image) {
                    return;
                }
                self.scroll = 0;
                self.state = ImageState::TooLarge { image, bytes };
            }
            ImageEvent::Inspected { image, result } => {
                // Latest wins: an answer for an image we no longer wait for is dropped.
                if matches!(&self.state, ImageState::Inspecting(i) if *i != image) {
                    return;
                }
                self.scroll = 0;
                self.state = match result {
                    Ok(v) => ImageState::Ready(v),
                    Err(error) => ImageState::Failed { image, error },
                };
            }
            // The Digest pane's answers.
            ImageEvent::TagHistory(_) | ImageEvent::RolledBack { .. } => {}
        }
    }

    /// Rows the content has (for the layout and scrolling).
    pub fn rows(&self) -> usize {
        match &self.state {
            ImageState::Ready(v) => content_rows(v).len(),
            ImageState::Failed { .. } => 3,
            ImageState::TooLarge { .. } => 2,
            _ => 1,
        }
    }

    fn max_scroll(&self) -> usize {
        self.rows().saturating_sub(self.viewport.get().max(1))
    }
}

/// `i`: inspect this session's image, else the project's last successful build from the history.
pub fn inspect_key(app: &mut App) -> Vec<Command> {
    let image = match &app.build {
        BuildState::Running { .. } => {
            app.notice = Some("a build is running - i inspects its image when it is done".into());
            return Vec::new();
        }
        BuildState::Done(o) if o.success => Some(o.image.clone()),
        _ => None,
    };
    app.notice = Some(match &image {
        Some(i) => format!("inspecting {i}..."),
        None => "inspecting the last successful build of this project...".into(),
    });
    vec![Command::Image(ImageCommand::Inspect(image))]
}

/// What `y` copies here: the summary and the waste links, as the pane shows them.
pub fn copy_text(app: &App) -> Option<String> {
    let ImageState::Ready(v) = &app.image.state else {
        return None;
    };
    let theme = Theme {
        mono: true,
        light: false,
    };
    let mut rows = vec![Row::Title, Row::Summary];
    rows.extend((0..v.links.len()).map(Row::Link));
    Some(
        rows.into_iter()
            .map(|r| render(v, r, &theme).to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// After a successful build the engine inspects its image by itself, up to `max_mb` megabytes (1 MB =
/// 1,000,000 bytes, as the pane prints sizes): exporting a 15 GB CUDA image takes minutes of disk and CPU.
pub fn after_build(outcome: &crate::engine::BuildOutcome, max_mb: u64) -> Vec<Command> {
    if outcome.success && outcome.image_id.is_some() {
        vec![Command::Image(ImageCommand::InspectUpTo {
            image: outcome.image.clone(),
            max_bytes: max_mb.saturating_mul(1_000_000),
        })]
    } else {
        Vec::new()
    }
}

pub fn on_action(app: &mut App, action: Action) -> Handled {
    let p = &mut app.image;
    let page = (p.viewport.get() / 2).max(1);
    match action {
        Action::Down => p.scroll += 1,
        Action::Up => p.scroll = p.scroll.saturating_sub(1),
        Action::PageDown => p.scroll += page,
        Action::PageUp => p.scroll = p.scroll.saturating_sub(page),
        Action::Top => p.scroll = 0,
        Action::Bottom => p.scroll = usize::MAX,
        _ => return Handled::No,
    }
    p.scroll = p.scroll.min(p.max_scroll());
    Handled::Yes
}

pub fn scroll(app: &mut App, delta: isize) {
    let p = &mut app.image;
    p.scroll = p.scroll.saturating_add_signed(delta).min(p.max_scroll());
}

/// "rows 11-30 of 58" while the content does not fit.
pub fn title_suffix(p: &ImagePane) -> String {
    let (total, rows) = (p.rows(), p.viewport.get());
    match &p.state {
        ImageState::Inspecting(_) => " (inspecting...)".into(),
        ImageState::Ready(_) if rows > 0 && total > rows => {
            let first = p.scroll.min(total - rows);
            format!(" (rows {}-{} of {total})", first + 1, first + rows)
        }
        _ => String::new(),
    }
}

/// Rows the pane would like: all its content, within what the layout can give.
pub fn height_wanted(p: &ImagePane) -> u16 {
    (p.rows() as u16).saturating_add(2)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Title,
    Summary,
    Blank,
    Heading(&'static str),
    Link(usize),
    LayerHeader,
    Layer(usize),
    File(usize),
    Waste(usize),
}

/// The content as row kinds: cheap to build for any image; only the visible ones become text.
fn content_rows(v: &ImageView) -> Vec<Row> {
    let r = &v.report;
    let mut out = vec![Row::Title, Row::Summary];
    if !v.links.is_empty() {
        out.push(Row::Blank);
        out.push(Row::Heading("Waste -> the rule whose fix prevents it"));
        out.extend((0..v.links.len()).map(Row::Link));
    }
    out.push(Row::Blank);
    out.push(Row::Heading("Layers"));
    out.push(Row::LayerHeader);
    out.extend((0..r.layers.len()).map(Row::Layer));
    if !r.largest_files.is_empty() {
        out.push(Row::Blank);
        out.push(Row::Heading("Largest files"));
        out.extend((0..r.largest_files.len()).map(Row::File));
    }
    if !r.wasted.is_empty() {
        out.push(Row::Blank);
        out.push(Row::Heading(
            "Wasted space (stored, deleted or overwritten later)",
        ));
        out.extend((0..r.wasted.len()).map(Row::Waste));
    }
    out
}

fn render(v: &ImageView, row: Row, theme: &Theme) -> Line<'static> {
    let r = &v.report;
    match row {
        Row::Title => Line::styled(r.image.clone(), theme.heading()),
        Row::Summary => {
            let style = if r.efficiency >= 0.95 {
                theme.ok()
            } else {
                theme.warning()
            };
            Line::styled(
                format!(
                    "efficiency {:.1}%  wasted {} of {} stored ({} visible)",
                    r.efficiency * 100.0,
                    human_bytes(r.wasted_bytes),
                    human_bytes(r.total_bytes),
                    human_bytes(r.visible_bytes)
                ),
                style,
            )
        }
        Row::Blank => Line::from(""),
        Row::Heading(h) => Line::styled(h, theme.heading()),
        Row::Link(i) => {
            let l = &v.links[i];
            let at = match &l.location {
                Some(loc) => format!("on {loc}"),
                None => format!("on the instruction of layer {}", l.layer),
            };
            let later = if l.still_visible {
                ""
            } else {
                " (deleted later, still stored)"
            };
            Line::styled(
                format!(
                    "{} {} in layer {} -> {} {at}{later}",
                    l.what,
                    human_bytes(l.bytes),
                    l.layer,
                    l.rule
                ),
                theme.warning(),
            )
        }
        Row::LayerHeader => Line::styled(
            format!("{:>5} {:>9} {:>9}  instruction", "layer", "size", "wasted"),
            theme.dim(),
        ),
        Row::Layer(i) => {
            let l = &r.layers[i];
            if l.empty {
                return Line::styled(
                    format!("{:>5} {:>9} {:>9}  {}", "-", "", "", l.instruction),
                    theme.dim(),
                );
            }
            let wasted = if l.wasted_bytes > 0 {
                human_bytes(l.wasted_bytes)
            } else {
                String::new()
            };
            let line = format!(
                "{:>5} {:>9} {:>9}  {}",
                l.layer.unwrap_or(0),
                human_bytes(l.size),
                wasted,
                l.instruction
            );
            if l.wasted_bytes > 0 {
                Line::styled(line, theme.warning())
            } else {
                Line::from(line)
            }
        }
        Row::File(i) => {
            let f = &r.largest_files[i];
            Line::from(format!(
                "{:>9}  layer {:<3} {}",
                human_bytes(f.size),
                f.layer,
                f.path
            ))
        }
        Row::Waste(i) => {
            let w = &r.wasted[i];
            let list = |v: &[usize]| {
                v.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let how = match w.how {
                HiddenBy::Deleted => "deleted",
                HiddenBy::Overwritten => "overwritten",
            };
            let rule = w
                .rule
                .as_deref()
                .map(|r| format!("  [{r}]"))
                .unwrap_or_default();
            Line::from(format!(
                "{:>9}  {}  (layer {} {how} in layer {}){rule}",
                human_bytes(w.bytes),
                w.path,
                list(&w.layers),
                list(&w.hidden_in)
            ))
        }
    }
}

/// The rows that fit in `rows` lines from the pane's scroll position; messages wrap to `width`.
pub fn lines(app: &App, theme: &Theme, rows: usize, width: usize) -> Vec<Line<'static>> {
    let p = &app.image;
    p.viewport.set(rows);
    let wrapped = |text: &str, style| -> Vec<Line<'static>> {
        super::wrap_text(text, width)
            .into_iter()
            .map(|l| Line::styled(l, style))
            .collect()
    };
    match &p.state {
        ImageState::Empty => wrapped(
            "no image inspected - it runs after a successful build; i inspects the last build now",
            theme.dim(),
        ),
        ImageState::Inspecting(image) => wrapped(
            &format!("inspecting {image}: reading its layers from the engine..."),
            theme.dim(),
        ),
        ImageState::TooLarge { image, bytes } => {
            let mut out = wrapped(
                &format!(
                    "image is {}: press i to inspect (takes a while)",
                    human_bytes(*bytes)
                ),
                theme.warning(),
            );
            out.extend(wrapped(
                &format!("{image} - above [ui] image_auto_inspect_max_mb, not inspected by itself"),
                theme.dim(),
            ));
            out
        }
        ImageState::Failed { image, error } => {
            let mut out = wrapped(&format!("cannot inspect {image}: {error}"), theme.error());
            out.extend(wrapped("i tries again", theme.dim()));
            out
        }
        ImageState::Ready(v) => {
            let all = content_rows(v);
            // The last page stays full: a scroll past the end (G, a resize) shows the bottom rows.
            let first = p.scroll.min(all.len().saturating_sub(rows));
            all[first..]
                .iter()
                .take(rows)
                .map(|r| render(v, *r, theme))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::image_job::WasteLink;
    use crate::image::{ImageReport, LayerReport};

    fn report(layers: usize) -> ImageReport {
        ImageReport {
            image: "demo:1".into(),
            layout: crate::image::archive::Layout::DockerArchive,
            id: None,
            repo_tags: vec![],
            total_bytes: 1_000_000,
            visible_bytes: 600_000,
            wasted_bytes: 400_000,
            efficiency: 0.6,
            layers: (0..layers)
                .map(|i| LayerReport {
                    layer: Some(i + 1),
                    diff_id: None,
                    instruction: format!("RUN step {}", i + 1),
                    created_by: String::new(),
                    created: None,
                    empty: false,
                    size: 1000,
                    files: 1,
                    wasted_bytes: 0,
                })
                .collect(),
            largest_files: vec![],
            wasted: vec![],
            caches: vec![],
            gate: None,
        }
    }

    fn ready(layers: usize) -> ImagePane {
        ImagePane {
            state: ImageState::Ready(Box::new(ImageView {
                report: report(layers),
                links: vec![WasteLink {
                    what: "pip cache".into(),
                    rule: "DL3042".into(),
                    layer: 2,
                    bytes: 300_000,
                    still_visible: true,
                    location: Some("Dockerfile:4".into()),
                }],
            })),
            ..Default::default()
        }
    }

    #[test]
    fn only_the_visible_rows_are_drawn_and_the_last_page_stays_full() {
        let mut app = App::new("/x".into(), "unix:///x".into());
        app.image = ready(500);
        let theme = Theme {
            mono: true,
            light: false,
        };
        let shown = lines(&app, &theme, 10, 80);
        assert_eq!(shown.len(), 10);
        assert!(shown[0].to_string().contains("demo:1"));
        on_action(&mut app, Action::Bottom);
        let shown = lines(&app, &theme, 10, 80);
        assert_eq!(shown.len(), 10);
        assert!(
            shown[9].to_string().contains("RUN step 500"),
            "{:?}",
            shown[9]
        );
        assert_eq!(
            title_suffix(&app.image),
            format!(
                " (rows {}-{} of {})",
                app.image.rows() - 9,
                app.image.rows(),
                app.image.rows()
            )
        );
        on_action(&mut app, Action::Top);
        assert_eq!(app.image.scroll, 0);
        on_action(&mut app, Action::Up);
        assert_eq!(app.image.scroll, 0, "no scrolling above the top");
    }

    #[test]
    fn a_stale_answer_is_dropped() {
        let mut p = ImagePane::default();
        p.on_event(ImageEvent::Inspecting("new:2".into()));
        p.on_event(ImageEvent::Inspected {
            image: "old:1".into(),
            result: Err("gone".into()),
        });
        assert!(matches!(&p.state, ImageState::Inspecting(i) if i == "new:2"));
        p.on_event(ImageEvent::Inspected {
            image: "new:2".into(),
            result: Err("engine went away".into()),
        });
        assert!(
            matches!(&p.state, ImageState::Failed { error, .. } if error == "engine went away")
        );
    }
}
