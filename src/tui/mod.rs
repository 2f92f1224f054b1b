// Temporary on the adapters branch: the lead owns src/tui/mod.rs; on merge keep the lead's file and add `pub mod gpu_pane;`.
pub mod gpu_pane;
