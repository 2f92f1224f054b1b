//! Keymap as data: defaults from assets/keymap.toml; each binding has a description for the help popup.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

const DEFAULT: &str = include_str!("../../assets/keymap.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    FocusNext,
    FocusPrev,
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Build,
    Cancel,
    Reanalyze,
    Help,
    Back,
    Quit,
    JumpToFix,
    Accept,
    Reject,
    Edit,
    LineMode,
    Alternative,
    UndoDecision,
    RedoDecision,
    Write,
    Push,
    Search,
    NextMatch,
    PrevMatch,
    Filter,
    JumpError,
    Wrap,
    SaveLog,
    Copy,
    Zoom,
    ToggleMouse,
    History,
    /// Enter in a list: open the selected item (a GPU's details, a smoke check's output, a past build).
    Open,
    /// Accept every undecided hunk of the level of the hunk under the cursor.
    AcceptLevel,
    /// Conflicts: cycle the lowest severity shown (all, warnings and errors, errors only).
    SeverityFilter,
    /// Inspect the last built image's layers and waste (Image pane).
    Inspect,
    /// Digest: point the shown tag back to the push before its current digest (asks first).
    Rollback,
    /// Digest: show the next pushed tag's history.
    NextTag,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Binding {
    pub action: Action,
    pub keys: Vec<String>,
    /// Only in this pane ("conflicts", "diff", "log", "gpu", "smoke", "digest", "image"); None: everywhere.
    /// A pane binding wins over a global one for the same key.
    #[serde(default)]
    pub pane: Option<String>,
    pub desc: String,
}

#[derive(Debug, Deserialize)]
struct File {
    bind: Vec<Binding>,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
    parsed: Vec<(KeyCode, KeyModifiers, Option<String>, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::from_toml(DEFAULT).expect("embedded keymap is valid")
    }
}

impl Keymap {
    pub fn from_toml(text: &str) -> Result<Keymap, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        Keymap::from_bindings(file.bind)
    }

    fn from_bindings(bind: Vec<Binding>) -> Result<Keymap, String> {
        let file = File { bind };
        let mut parsed: Vec<(KeyCode, KeyModifiers, Option<String>, Action)> = Vec::new();
        for b in &file.bind {
            for k in &b.keys {
                let (code, mods) =
                    parse_key(k).ok_or_else(|| format!("unknown key '{k}' for {:?}", b.action))?;
                if let Some((.., other)) = parsed
                    .iter()
                    .find(|(c, m, p, _)| *c == code && *m == mods && *p == b.pane)
                {
                    return Err(format!(
                        "key '{k}' is bound to both {other:?} and {:?}",
                        b.action
                    ));
                }
                parsed.push((code, mods, b.pane.clone(), b.action));
            }
        }
        Ok(Keymap {
            bindings: file.bind,
            parsed,
        })
    }

    /// Apply the user's overrides: each replaces the keys of its action (in its pane scope). Unknown actions,
    /// unknown keys and clashes are errors that name what to fix.
    pub fn with_overrides(
        self,
        overrides: &[crate::config::KeyOverride],
    ) -> Result<Keymap, String> {
        let mut bindings = self.bindings;
        for o in overrides {
            let action: Action =
                toml::Value::String(o.action.clone())
                    .try_into()
                    .map_err(|_| {
                        format!(
                            "[keys] unknown action \"{}\" (see `?` in dockui for the actions)",
                            o.action
                        )
                    })?;
            match bindings
                .iter_mut()
                .find(|b| b.action == action && (o.pane.is_none() || b.pane == o.pane))
            {
                Some(b) => b.keys = o.keys.clone(),
                None => bindings.push(Binding {
                    action,
                    keys: o.keys.clone(),
                    pane: o.pane.clone(),
                    desc: o.action.replace('_', " "),
                }),
            }
        }
        Keymap::from_bindings(bindings).map_err(|e| format!("[keys] {e}"))
    }

    /// The action for `key` in `pane`: a binding for that pane first, then a global one.
    pub fn action_in(&self, key: &KeyEvent, pane: &str) -> Option<Action> {
        let (code, mods) = normalize(key);
        let find = |scope: Option<&str>| {
            self.parsed
                .iter()
                .find(|(c, m, p, _)| *c == code && *m == mods && p.as_deref() == scope)
                .map(|(.., a)| *a)
        };
        find(Some(pane)).or_else(|| find(None))
    }

    /// A global binding only.
    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        let (code, mods) = normalize(key);
        self.parsed
            .iter()
            .find(|(c, m, p, _)| *c == code && *m == mods && p.is_none())
            .map(|(.., a)| *a)
    }
}

fn normalize(key: &KeyEvent) -> (KeyCode, KeyModifiers) {
    // Shift is part of the character for printable keys ('G', '?'), so ignore it there.
    let mods = match key.code {
        KeyCode::Char(_) | KeyCode::BackTab => key.modifiers - KeyModifiers::SHIFT,
        _ => key.modifiers,
    };
    (key.code, mods)
}

pub fn parse_key(s: &str) -> Option<(KeyCode, KeyModifiers)> {
    let (mods, rest) = match s.strip_prefix("Ctrl-") {
        Some(r) => (KeyModifiers::CONTROL, r),
        None => (KeyModifiers::NONE, s),
    };
    let code = match rest {
        "Tab" => KeyCode::Tab,
        "BackTab" => KeyCode::BackTab,
        "Up" => KeyCode::Up,
        "Down" => KeyCode::Down,
        "Left" => KeyCode::Left,
        "Right" => KeyCode::Right,
        "PageUp" => KeyCode::PageUp,
        "PageDown" => KeyCode::PageDown,
        "Home" => KeyCode::Home,
        "End" => KeyCode::End,
        "Enter" => KeyCode::Enter,
        "Esc" => KeyCode::Esc,
        "Space" => KeyCode::Char(' '),
        c if c.chars().count() == 1 => KeyCode::Char(c.chars().next()?),
        _ => return None,
    };
    Some((code, mods))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_map_keys() {
        let km = Keymap::default();
        let key = |c, m| KeyEvent::new(c, m);
        assert_eq!(
            km.action(&key(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('c'), KeyModifiers::NONE)),
            Some(Action::Cancel)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.action(&key(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            km.action(&key(KeyCode::BackTab, KeyModifiers::NONE)),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('x'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn pane_bindings_win_over_global_ones() {
        let km = Keymap::default();
        let y = KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE);
        assert_eq!(km.action_in(&y, "diff"), Some(Action::Accept));
        assert_eq!(km.action_in(&y, "log"), Some(Action::Copy));
        let q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(km.action_in(&q, "diff"), Some(Action::Quit));
    }

    #[test]
    fn user_overrides_rebind_and_clashes_name_both() {
        let ov = |action: &str, key: &str| crate::config::KeyOverride {
            action: action.into(),
            keys: vec![key.into()],
            pane: None,
        };
        let km = Keymap::default()
            .with_overrides(&[ov("build", "B")])
            .unwrap();
        assert_eq!(
            km.action(&KeyEvent::new(KeyCode::Char('B'), KeyModifiers::SHIFT)),
            Some(Action::Build)
        );
        assert_eq!(
            km.action(&KeyEvent::new(KeyCode::Char('b'), KeyModifiers::NONE)),
            None
        );
        let err = Keymap::default()
            .with_overrides(&[ov("build", "q")])
            .unwrap_err();
        assert!(err.contains("Build") && err.contains("Quit"), "{err}");
        let err = Keymap::default()
            .with_overrides(&[ov("launch_rockets", "x")])
            .unwrap_err();
        assert!(err.contains("launch_rockets"), "{err}");
    }

    #[test]
    fn clash_names_both_actions() {
        let err = Keymap::from_toml(
            "[[bind]]\naction='build'\nkeys=['b']\ndesc='x'\n[[bind]]\naction='cancel'\nkeys=['b']\ndesc='y'\n",
        )
        .unwrap_err();
        assert!(err.contains("Build") && err.contains("Cancel"), "{err}");
    }
}
