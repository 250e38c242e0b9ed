//! WorkTool: the codec against golden callbacks, the callback receiver against `sim worktool`.

mod codec;
mod hostile;
mod receiver;
mod robot_info;
