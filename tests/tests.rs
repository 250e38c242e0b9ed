//! End-to-end tests: the compiled `chatvault` binary against real archives and simulators.

mod alerts;
mod bench_cli;
mod crash;
mod disk_faults;
mod eoffice_store;
mod export_cli;
mod five_platforms;
mod goofish_store;
mod hostile;
mod read_commands;
mod reviewer_ui;
mod run_e2e;
mod search_cli;
mod secrets;
mod store_faults;
mod support;
mod verify_bundle;
mod wecom_archive;
