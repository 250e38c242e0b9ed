//! The official WXBizMsgCrypt test vectors (protocols.md §2.2), both directions: the
//! receiver must verify and decrypt them, and encrypting the same plaintext with the same
//! random prefix must give the published ciphertext byte for byte.

use chatvault_ingest::wecom::crypto::{CryptoError, WecomCrypto};

struct Vector {
    token: &'static str,
    key: &'static str,
    corp_id: &'static str,
    get: (&'static str, &'static str, &'static str, &'static str, &'static str),
    post: (&'static str, &'static str, &'static str, &'static str),
    plain: &'static str,
}

const A: Vector = Vector {
    token: "QDG6eK",
    key: "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
    corp_id: "wx5823bf96d3bd56c7",
    get: (
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
        "1409659589",
        "263014780",
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
        "1616140317555161061",
    ),
    post: (
        "477715d11cdb4164915debcba66cb864d751f3e6",
        "1409659813",
        "1372623149",
        "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==",
    ),
    plain: "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>",
};

const B: Vector = Vector {
    token: "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    key: "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
    corp_id: "ww1436e0e65a779aee",
    get: (
        "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
        "1476416373",
        "47744683",
        "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
        "1288432023552776189",
    ),
    post: (
        "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
        "1476422779",
        "1597212914",
        "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+",
    ),
    plain: "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>",
};

fn crypto(v: &Vector) -> WecomCrypto {
    WecomCrypto::new(v.token, v.key, v.corp_id).unwrap()
}

#[test]
fn official_get_vectors_verify_and_decrypt() {
    for v in [A, B] {
        let c = crypto(&v);
        let (sig, ts, nonce, echostr, expected) = v.get;
        assert_eq!(c.signature(ts, nonce, echostr), sig);
        c.verify(sig, ts, nonce, echostr).unwrap();
        assert_eq!(String::from_utf8(c.decrypt(echostr).unwrap()).unwrap(), expected);
    }
}

#[test]
fn official_post_vectors_verify_and_decrypt() {
    for v in [A, B] {
        let c = crypto(&v);
        let (sig, ts, nonce, encrypt) = v.post;
        c.verify(sig, ts, nonce, encrypt).unwrap();
        let plain = c.decrypt(encrypt).unwrap();
        assert_eq!(std::str::from_utf8(&plain).unwrap(), v.plain);
    }
    assert_eq!(A.plain.len(), 284);
    assert_eq!(B.plain.len(), 228);
}

#[test]
fn encrypting_with_the_published_random_prefix_gives_the_published_ciphertext() {
    let a = crypto(&A);
    assert_eq!(a.encrypt_with_random(A.plain.as_bytes(), b"0960688932c47ef1"), A.post.3);
    assert_eq!(a.encrypt_with_random(A.get.4.as_bytes(), b"c41b64491c2468d0"), A.get.3);
    // Vector B publishes no prefix; it is the first 16 bytes of its own plaintext.
    let b = crypto(&B);
    for (cipher, plain) in [(B.post.3, B.plain), (B.get.3, B.get.4)] {
        let (msg, _) = b.decrypt_unchecked(cipher).unwrap();
        assert_eq!(msg, plain.as_bytes());
        let random = first_block(B.key, cipher);
        assert_eq!(b.encrypt_with_random(plain.as_bytes(), &random), cipher);
    }
}

/// The random prefix of a ciphertext, recovered by decrypting only its first AES block.
fn first_block(encoding_aes_key: &str, cipher: &str) -> [u8; 16] {
    use aes::cipher::{BlockCipherDecrypt, KeyInit};
    use base64::Engine;
    let key = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::general_purpose::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    )
    .decode(format!("{encoding_aes_key}="))
    .unwrap();
    let ct = base64::engine::general_purpose::STANDARD.decode(cipher).unwrap();
    let aes = aes::Aes256::new_from_slice(&key).unwrap();
    let mut block = aes::cipher::Array::try_from(&ct[..16]).unwrap();
    aes.decrypt_block(&mut block);
    let mut out = [0u8; 16];
    for i in 0..16 {
        out[i] = block[i] ^ key[i];
    }
    out
}

#[test]
fn signatures_and_corp_ids_are_checked() {
    let c = crypto(&A);
    let (sig, ts, nonce, encrypt) = A.post;
    let mut bad = sig.to_string();
    bad.replace_range(0..1, "0");
    assert_eq!(c.verify(&bad, ts, nonce, encrypt), Err(CryptoError::BadSignature));
    assert_eq!(
        c.verify(sig, "1409659814", nonce, encrypt),
        Err(CryptoError::BadSignature)
    );
    let other = WecomCrypto::new(A.token, A.key, "ww0000000000000000").unwrap();
    assert_eq!(
        other.decrypt(encrypt),
        Err(CryptoError::WrongReceiveId {
            found: "wx5823bf96d3bd56c7".into()
        })
    );
}
