fn main() {
    std::process::exit(dockui::cli::main());
}
