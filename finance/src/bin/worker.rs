//! The finance worker as a standalone executable (this crate's tests spawn it; the product
//! runs its own binary's hidden subcommand, which calls the same function).

fn main() {
    std::process::exit(chatvault_finance::worker::main());
}
