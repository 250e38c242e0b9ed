//! End-to-end tests: the compiled `chatvault` binary against real archives and simulators.

mod read_commands;
