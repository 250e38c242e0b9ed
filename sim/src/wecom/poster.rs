//! Calls a callback URL the way WeCom does: signed, AES-encrypted XML, a 5 s deadline and up
//! to three attempts, with faults on demand. Records every attempt and its answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ingest::wecom::crypto::WecomCrypto;
use rand::Rng;

use super::SimError;
use super::script::{AGENT_ID, Callback};

/// WeCom's answer deadline.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// Attempts per callback (the first plus two retries).
pub const ATTEMPTS: u32 = 3;

/// Something wrong with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `msg_signature` for a different token.
    BadSignature,
    /// Encrypted for another corp id.
    WrongCorpId,
    /// The inner XML cut in half before encryption.
    TruncatedXml,
    /// Body padded to this many bytes (exceeds the receiver's limit when large enough).
    Oversized(usize),
    /// No `msg_signature` / `timestamp` / `nonce` in the query.
    MissingParams,
}

/// One HTTP attempt and its answer.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// `kind` of the callback (`text`, `event:change_contact`…; `verify` for the GET).
    pub kind: String,
    /// `MsgId`, for app messages.
    pub msg_id: Option<String>,
    /// 1-based attempt number.
    pub attempt: u32,
    /// Fault injected, if any.
    pub fault: Option<Fault>,
    /// When the request was sent.
    pub sent_at: Instant,
    /// When the answer (or the timeout) came.
    pub answered_at: Instant,
    /// HTTP status; 0 = no answer within the deadline or connection failed.
    pub status: u16,
    /// Answer body.
    pub body: String,
}

impl Attempt {
    /// Whether WeCom would count this as delivered (200 with `success` or an empty body).
    pub fn acked(&self) -> bool {
        self.status == 200 && (self.body == "success" || self.body.is_empty())
    }
}

/// A prepared request, kept so it can be replayed byte for byte.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Query string.
    pub query: String,
    /// XML body.
    pub body: String,
}

/// Posts to one callback URL.
#[derive(Clone)]
pub struct WecomPoster {
    url: String,
    crypto: WecomCrypto,
    corp_id: String,
    token: String,
    http: reqwest::Client,
    log: Arc<Mutex<Vec<Attempt>>>,
    retry_pause: Duration,
}

impl WecomPoster {
    /// A poster for `url` (scheme, host, port and path) with the given credentials.
    pub fn new(url: &str, token: &str, encoding_aes_key: &str, corp_id: &str) -> Result<Self, SimError> {
        let crypto = WecomCrypto::new(token, encoding_aes_key, corp_id).map_err(|e| SimError::Config(e.to_string()))?;
        let http = reqwest::Client::builder()
            .timeout(DEADLINE)
            .build()
            .map_err(|e| SimError::Http(e.to_string()))?;
        Ok(WecomPoster {
            url: url.to_string(),
            crypto,
            corp_id: corp_id.to_string(),
            token: token.to_string(),
            http,
            log: Arc::default(),
            retry_pause: Duration::from_millis(200),
        })
    }

    /// A poster with the simulator's own credentials ([`super::TOKEN`] etc.).
    pub fn sim(url: &str) -> Self {
        // The built-in credentials are valid constants.
        Self::new(url, super::TOKEN, super::ENCODING_AES_KEY, super::CORP_ID).expect("simulator credentials are valid")
    }

    /// Pause between attempts (WeCom waits a few seconds; tests shorten it).
    pub fn with_retry_pause(mut self, d: Duration) -> Self {
        self.retry_pause = d;
        self
    }

    /// Every attempt so far, in order.
    pub fn log(&self) -> Vec<Attempt> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Signs and encrypts `xml` like WeCom, with an optional fault.
    pub fn sign(&self, xml: &str, fault: Option<Fault>) -> Signed {
        let mut rng = rand::rng();
        let random: [u8; 16] = std::array::from_fn(|_| rng.sample(rand::distr::Alphanumeric));
        let timestamp = (proto::time::now_ms() / 1000).to_string();
        let nonce = rng.random_range(100_000_000u64..2_000_000_000).to_string();
        let plain = match fault {
            Some(Fault::TruncatedXml) => {
                let cut = (0..=xml.len() / 2)
                    .rev()
                    .find(|&i| xml.is_char_boundary(i))
                    .unwrap_or(0);
                &xml[..cut]
            }
            _ => xml,
        };
        let encrypt = match fault {
            Some(Fault::WrongCorpId) => self
                .crypto
                .encrypt_for(plain.as_bytes(), &random, b"wwsomeoneelse00000"),
            _ => self.crypto.encrypt_with_random(plain.as_bytes(), &random),
        };
        let signature = match fault {
            Some(Fault::BadSignature) => {
                let other = WecomCrypto::new(&format!("{}x", self.token), super::ENCODING_AES_KEY, &self.corp_id);
                other
                    .map(|o| o.signature(&timestamp, &nonce, &encrypt))
                    .unwrap_or_default()
            }
            _ => self.crypto.signature(&timestamp, &nonce, &encrypt),
        };
        let mut body = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>",
            self.corp_id
        );
        if let Some(Fault::Oversized(n)) = fault {
            // Whitespace after the root keeps the XML valid: only the size is wrong.
            body.push_str(&" ".repeat(n.saturating_sub(body.len())));
        }
        let query = match fault {
            Some(Fault::MissingParams) => format!("timestamp={timestamp}"),
            _ => format!("msg_signature={signature}&timestamp={timestamp}&nonce={nonce}"),
        };
        Signed { query, body }
    }

    /// The GET URL verification with a random `echostr`; returns the attempt (its body must
    /// equal `echo`).
    pub async fn verify_url(&self, echo: &str) -> Attempt {
        let random: [u8; 16] = std::array::from_fn(|i| b'a' + i as u8);
        let echostr = self.crypto.encrypt_with_random(echo.as_bytes(), &random);
        let ts = (proto::time::now_ms() / 1000).to_string();
        let nonce = "1372623149";
        let sig = self.crypto.signature(&ts, nonce, &echostr);
        let enc: String = url::form_urlencoded::byte_serialize(echostr.as_bytes()).collect();
        let url = format!(
            "{}?msg_signature={sig}&timestamp={ts}&nonce={nonce}&echostr={enc}",
            self.url
        );
        let sent_at = Instant::now();
        let (status, body) = match self.http.get(url).send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        };
        let a = Attempt {
            kind: "verify".into(),
            msg_id: None,
            attempt: 1,
            fault: None,
            sent_at,
            answered_at: Instant::now(),
            status,
            body,
        };
        self.record(a.clone());
        a
    }

    /// Sends one prepared request once.
    pub async fn send(&self, cb: &Callback, signed: &Signed, attempt: u32, fault: Option<Fault>) -> Attempt {
        let url = format!("{}?{}", self.url, signed.query);
        let sent_at = Instant::now();
        let (status, body) = match self.http.post(url).body(signed.body.clone()).send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(_) => (0, String::new()),
        };
        let a = Attempt {
            kind: cb.kind.clone(),
            msg_id: cb.msg_id.clone(),
            attempt,
            fault,
            sent_at,
            answered_at: Instant::now(),
            status,
            body,
        };
        self.record(a.clone());
        a
    }

    /// Delivers a callback like WeCom: the same signed payload up to [`ATTEMPTS`] times until
    /// it is acknowledged. Returns the last attempt.
    pub async fn deliver(&self, cb: &Callback) -> Attempt {
        self.deliver_with(cb, None).await
    }

    /// [`WecomPoster::deliver`] with a fault.
    pub async fn deliver_with(&self, cb: &Callback, fault: Option<Fault>) -> Attempt {
        let signed = self.sign(&cb.xml, fault);
        let mut last = self.send(cb, &signed, 1, fault).await;
        for n in 2..=ATTEMPTS {
            if last.acked() || (400..500).contains(&last.status) {
                break;
            }
            tokio::time::sleep(self.retry_pause).await;
            last = self.send(cb, &signed, n, fault).await;
        }
        last
    }

    /// Delivers every callback in order; returns how many were acknowledged.
    pub async fn run(&self, callbacks: &[Callback]) -> usize {
        crate::delivery::in_order(self, callbacks).await
    }

    /// Delivers callbacks with `concurrency` requests in flight (a burst); returns how many
    /// were acknowledged.
    pub async fn burst(&self, callbacks: &[Callback], concurrency: usize) -> usize {
        crate::delivery::burst(self, callbacks, concurrency).await
    }

    fn record(&self, a: Attempt) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(a);
    }
}

impl crate::delivery::Deliver for WecomPoster {
    type Callback = Callback;

    async fn deliver_acked(&self, cb: &Callback) -> bool {
        self.deliver(cb).await.acked()
    }
}
