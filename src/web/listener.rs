//! The TCP listener `serve` answers on, so that hyper's own answers carry the security headers.
//!
//! A request that hyper cannot parse (a malformed request line or header, more than 100
//! headers, an address over 64 KB) never reaches the router: hyper answers it itself with a
//! bare 400, 431 or 414 that has no headers but `content-length: 0` and `date`, then closes the
//! connection. hyper has no setting to add headers to it or to hand the error to the
//! application, so every connection's writes pass through [`Guarded`], which recognises such an
//! answer and sends it with the security headers and a line of text instead. Only a head
//! written alone in one write, with one of those statuses and no header beyond hyper's two, is
//! taken for one: every answer of the router carries the security headers, so none of them
//! can be mistaken for it.
//!
//! HSTS is left out of these answers: the listener does not know whether the site is served
//! over https, and a client that cannot write a request line is not a browser to instruct.

use super::security;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections are [`Guarded`].
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => return (Guarded::new(stream), addr),
                // One client gave up while connecting: nothing to wait for.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                    ) => {}
                // Out of file descriptors and the like: wait, rather than spin.
                Err(e) => {
                    tracing::error!("could not accept a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A connection whose writes are watched for hyper's own error answers.
pub struct Guarded<S> {
    inner: S,
    /// An answer being sent in place of hyper's: the bytes, how many are sent, and how many
    /// hyper wrote (reported once all are sent).
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<S> Guarded<S> {
    pub fn new(inner: S) -> Guarded<S> {
        Guarded {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncWrite + Unpin> Guarded<S> {
    /// Sends the pending replacement; done means hyper's whole write is done.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some((bytes, sent, reported)) = self.pending.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while *sent < bytes.len() {
            match ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*sent..])) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => *sent += n,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let reported = *reported;
        self.pending = None;
        Poll::Ready(Ok(reported))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none() {
            match replacement(buf) {
                Some(bytes) => this.pending = Some((bytes, 0, buf.len())),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        this.drive(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.is_none() {
            let mut filled = bufs.iter().filter(|b| !b.is_empty());
            let only = match (filled.next(), filled.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            };
            match only.and_then(|b| Some((replacement(b)?, b.len()))) {
                Some((bytes, len)) => this.pending = Some((bytes, 0, len)),
                None => return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
            }
        }
        this.drive(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The answer to send instead of `written`, when `written` is hyper's own error answer.
fn replacement(written: &[u8]) -> Option<Vec<u8>> {
    if !written.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; 4];
    let mut head = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(len) = head.parse(written).ok()? else {
        return None;
    };
    let why = match head.code? {
        400 => "its request line or a header is malformed",
        414 => "its address is too long",
        431 => "its headers are too large",
        _ => return None,
    };
    let hypers_own = head.headers.iter().all(|h| {
        let name = h.name.to_ascii_lowercase();
        (name == "content-length" && h.value == b"0") || name == "date" || name == "connection"
    });
    if len != written.len() || !hypers_own {
        return None;
    }
    let status_line = written.split(|b| *b == b'\n').next()?;
    let body = format!("This request could not be read: {why}.\n");
    let mut out = Vec::with_capacity(768);
    out.extend_from_slice(status_line);
    out.push(b'\n');
    for h in head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("date"))
    {
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in security::HEADERS {
        out.extend_from_slice(format!("{}: {value}\r\n", name.as_str()).as_bytes());
    }
    out.extend_from_slice(
        format!(
            "cache-control: no-store\r\ncontent-type: text/plain; charset=utf-8\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::replacement;

    #[test]
    fn only_hypers_own_answers_are_replaced() {
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement(own).expect("replaced")).expect("utf-8");
        assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
        for needle in [
            "content-security-policy: default-src 'none'",
            "x-content-type-options: nosniff",
            "date: Tue, 01 Dec 2026",
            "cache-control: no-store",
            "\r\n\r\nThis request could not be read: its request line",
        ] {
            assert!(out.contains(needle), "{needle} in {out}");
        }
        let (head, body) = out.split_once("\r\n\r\n").expect("head");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(
            replacement(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n"
            )
            .is_some()
        );

        for other in [
            // The router's answers carry more headers, or a body, or another status.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ncontent-security-policy: x\r\n\r\n"
                [..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Req",
            b"id,display_name\r\n",
        ] {
            assert!(
                replacement(other).is_none(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }
}
