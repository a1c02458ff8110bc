//! The `machizu` binary: parse the command line and hand over to [`machizu::cli`].

fn main() -> std::process::ExitCode {
    machizu::cli::main()
}
