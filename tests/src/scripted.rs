//! A scripted upstream registry at the socket level, for what a real one will not do on
//! demand: hold a blob half-sent until the test lets it go, or send bytes that do not match
//! their digest. Each answer is fixed in advance; each GET is counted.

use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};

/// One fixed answer.
#[derive(Clone)]
pub struct Answer {
    /// `Content-Type`.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
    /// Send only this many bytes of the body, then wait for [`Scripted::release`].
    pub hold_after: Option<usize>,
}

#[derive(Default)]
struct State {
    answers: HashMap<String, Answer>,
    served: HashMap<String, usize>,
    released: bool,
}

/// The upstream: `GET /v2/` and the scripted paths; anything else is 404.
pub struct Scripted {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<(Mutex<State>, Condvar)>,
}

/// `sha256:…` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Scripted {
    /// Start serving on a free port until the process ends.
    pub fn start() -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Scripted { url, state }
    }

    /// Answer GETs of `path` with `answer`.
    pub fn answer(&self, path: &str, answer: Answer) {
        self.state
            .0
            .lock()
            .unwrap()
            .answers
            .insert(path.into(), answer);
    }

    /// Serve `blob` at `/v2/{repo}/blobs/<its digest>` (or `as_digest`); returns the digest.
    pub fn blob(&self, repo: &str, blob: &[u8], hold_after: Option<usize>) -> String {
        let digest = sha256(blob);
        self.answer(
            &format!("/v2/{repo}/blobs/{digest}"),
            Answer {
                content_type: "application/octet-stream".into(),
                body: blob.to_vec(),
                hold_after,
            },
        );
        digest
    }

    /// Serve an OCI image manifest of `config` and `layers` (digest, size) under `tag` and its
    /// digest; returns the digest.
    pub fn image(
        &self,
        repo: &str,
        tag: &str,
        config: (&str, usize),
        layers: &[(&str, usize)],
    ) -> String {
        let descriptor = |media: &str, (digest, size): (&str, usize)| serde_json::json!({"mediaType": media, "digest": digest, "size": size});
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": layers.iter().map(|&l| descriptor("application/vnd.oci.image.layer.v1.tar", l)).collect::<Vec<_>>(),
        });
        let body = serde_json::to_vec(&manifest).unwrap();
        let digest = sha256(&body);
        for reference in [tag, digest.as_str()] {
            self.answer(
                &format!("/v2/{repo}/manifests/{reference}"),
                Answer {
                    content_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    body: body.clone(),
                    hold_after: None,
                },
            );
        }
        digest
    }

    /// Let every held answer finish.
    pub fn release(&self) {
        self.state.0.lock().unwrap().released = true;
        self.state.1.notify_all();
    }

    /// How many GETs of `path` were answered.
    pub fn served(&self, path: &str) -> usize {
        self.state
            .0
            .lock()
            .unwrap()
            .served
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

fn serve(mut stream: TcpStream, state: &(Mutex<State>, Condvar)) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
    let answer = {
        let mut s = state.0.lock().unwrap();
        let answer = s.answers.get(&path).cloned();
        if answer.is_some() {
            *s.served.entry(path.clone()).or_default() += 1;
        }
        answer
    };
    let Some(answer) = answer else {
        let status = if path == "/v2/" {
            "200 OK"
        } else {
            "404 Not Found"
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        return;
    };
    let digest = sha256(&answer.body);
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nDocker-Content-Digest: {digest}\r\nConnection: close\r\n\r\n",
        answer.content_type,
        answer.body.len()
    );
    let held = answer
        .hold_after
        .unwrap_or(answer.body.len())
        .min(answer.body.len());
    if stream.write_all(&answer.body[..held]).is_err() {
        return;
    }
    let _ = stream.flush();
    let mut s = state.0.lock().unwrap();
    while !s.released && held < answer.body.len() {
        s = state.1.wait(s).unwrap();
    }
    drop(s);
    let _ = stream.write_all(&answer.body[held..]);
}
