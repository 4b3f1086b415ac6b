//! The pull ceiling: a minimal HTTP/1.1 server, run as a process of its own (the hidden
//! `sendfile-server` subcommand), that answers every `GET` with one file sent by the kernel
//! (`sendfile(2)`, no copy through user space). No registry can serve a blob faster.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// Serve `file` on 127.0.0.1:`port` until killed, one thread per connection.
pub fn serve(port: u16, file: &Path) -> anyhow::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    for stream in listener.incoming() {
        let stream = stream?;
        let file = file.to_owned();
        std::thread::spawn(move || {
            let _ = connection(stream, file);
        });
    }
    Ok(())
}

fn connection(mut stream: TcpStream, path: PathBuf) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffer = Vec::new();
    loop {
        let Some(head) = read_head(&mut stream, &mut buffer)? else {
            return Ok(());
        };
        let request_line = head.lines().next().unwrap_or_default().to_owned();
        let mut parts = request_line.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        if target == "/v2/" {
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        }
        let file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        stream.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        )?;
        if method == "GET" {
            send_file(&stream, &file, len)?;
        }
    }
}

/// Read one request head (up to the blank line) into text; `None` when the peer closed.
/// Bodies are not expected: the benchmark only sends GET and HEAD here.
fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<Option<String>> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.drain(..end + 4);
            return Ok(Some(head));
        }
        anyhow::ensure!(buffer.len() <= MAX_HEAD, "request head too large");
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn send_file(stream: &TcpStream, file: &std::fs::File, len: u64) -> anyhow::Result<()> {
    let mut offset: libc::off_t = 0;
    while (offset as u64) < len {
        let remaining = (len - offset as u64).min(1 << 30) as usize;
        // SAFETY: both descriptors are open for the duration of the call; `offset` is ours.
        let sent =
            unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut offset, remaining) };
        if sent < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        anyhow::ensure!(sent > 0, "sendfile made no progress");
    }
    Ok(())
}
