pub mod context;
pub mod dockerignore;
