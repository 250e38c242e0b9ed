//! WeCom callbacks, the receiver's chain: outer XML envelope → `msg_signature` check →
//! AES-256-CBC decryption with the receive-id check → inner XML → canonical events.
//! The first byte picks what the rest of the input plays:
//! 0 the whole POST body, 1 the decrypted inner message (encrypted here, so the fuzzer
//! reaches the XML mapping through the real envelope), 2 raw ciphertext bytes (padding and
//! layout checks), 3 a forged signature.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chatvault_fuzz::reads_back;
use ingest::wecom::codec;
use ingest::wecom::crypto::WecomCrypto;
use libfuzzer_sys::fuzz_target;

// The public WXBizMsgCrypt sample credentials.
const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const CORP_ID: &str = "wx5823bf96d3bd56c7";
const TS: &str = "1409659813";
const NONCE: &str = "1372623149";

/// What the receiver does with a POST body whose query is correctly signed.
fn receive(crypto: &WecomCrypto, body: &[u8]) -> Option<codec::Decoded> {
    let env = codec::parse_envelope(body).ok()?;
    let sig = crypto.signature(TS, NONCE, &env.encrypt);
    crypto
        .verify(&sig, TS, NONCE, &env.encrypt)
        .expect("own signature verifies");
    let plain = crypto.decrypt(&env.encrypt).ok()?;
    let d = codec::decode(&plain).ok()?;
    d.events.iter().for_each(reads_back);
    Some(d)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let crypto = WecomCrypto::new(TOKEN, KEY, CORP_ID).expect("sample key");
    match mode % 4 {
        0 => {
            let _ = receive(&crypto, rest);
        }
        1 => {
            let encrypted = crypto.encrypt_with_random(rest, b"0123456789abcdef");
            assert_eq!(crypto.decrypt(&encrypted).as_deref(), Ok(rest));
            let body = format!(
                "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>\
                 <Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID>218</AgentID></xml>"
            );
            let _ = receive(&crypto, body.as_bytes());
        }
        2 => {
            let _ = crypto.decrypt_unchecked(&STANDARD.encode(rest));
            if let Ok(s) = std::str::from_utf8(rest) {
                let _ = crypto.decrypt(s);
            }
        }
        _ => {
            let Ok(s) = std::str::from_utf8(rest) else {
                return;
            };
            let (sig, encrypted) = s.split_once('\0').unwrap_or((s, "x"));
            let expected = crypto.signature(TS, NONCE, encrypted);
            assert_eq!(crypto.verify(sig, TS, NONCE, encrypted).is_ok(), sig == expected);
        }
    }
});
