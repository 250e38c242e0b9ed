//! Who is asking: passwords, sessions, CSRF tokens, login throttling.

pub(crate) mod csrf;
pub mod password;
pub(crate) mod session;
pub(crate) mod throttle;

/// A fresh random token (32 bytes of the thread-local CSPRNG, seeded from the OS; hex).
pub(crate) fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}
