//! CSV downloads streamed as the database returns rows: safe to open in Excel (UTF-8 with a
//! byte-order mark, quoting by the `csv` crate, formula-like cells neutralised).
//!
//! The answer starts only once the first row (or the whole file, if it has none) is in hand:
//! a query that fails at once is an error page with its status, never a 200 that breaks off.
//! Only a failure in the middle of a long download can still cut it short.

use super::AppError;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use std::borrow::Cow;
use tokio::sync::mpsc;

/// Rows written per chunk sent.
const ROWS_PER_CHUNK: usize = 500;

/// A cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) gets a leading apostrophe, so it is shown as text.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Where a download's rows go.
pub struct CsvSink {
    writer: csv::Writer<Vec<u8>>,
    tx: mpsc::Sender<Result<Bytes, AppError>>,
    rows: usize,
}

impl CsvSink {
    /// Writes one row; `false` when the client has gone (stop producing).
    pub async fn row<I, S>(&mut self, cells: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| neutralise(c.as_ref()).into_owned())
            .collect();
        if let Err(e) = self.writer.write_record(&cells) {
            let _ = self
                .tx
                .send(Err(AppError::Internal(anyhow::anyhow!("CSV: {e}"))))
                .await;
            return false;
        }
        self.rows += 1;
        // The first row goes at once: it is what lets the answer start (see the module).
        (self.rows != 1 && !self.rows.is_multiple_of(ROWS_PER_CHUNK)) || self.send().await
    }

    async fn send(&mut self) -> bool {
        let full = std::mem::replace(&mut self.writer, writer(Vec::new()));
        let chunk = full.into_inner().unwrap_or_default();
        self.tx.send(Ok(Bytes::from(chunk))).await.is_ok()
    }

    /// The rows could not all be read: before the first row, the answer is an error page; later
    /// the download is cut short (the client sees an error, not a file that looks complete).
    pub async fn fail(self, e: impl Into<AppError>) {
        let _ = self.tx.send(Err(e.into())).await;
    }

    /// Sends what is left.
    pub async fn finish(mut self) {
        self.send().await;
    }
}

/// A CSV writer appending to `start`, lines ending in CRLF as spreadsheets expect.
fn writer(start: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(start)
}

/// A download named `filename` with the header row `head`, filled by `fill` in the background.
/// An error before the first row is returned instead of the download.
pub async fn csv_download<F, Fut>(
    filename: &str,
    head: &[&str],
    fill: F,
) -> Result<Response, AppError>
where
    F: FnOnce(CsvSink) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(4);
    // A byte-order mark, so Excel reads the file as UTF-8 (names with accents).
    let mut writer = writer("\u{feff}".as_bytes().to_vec());
    let _ = writer.write_record(head);
    tokio::spawn(fill(CsvSink {
        writer,
        tx,
        rows: 0,
    }));
    let first = match rx.recv().await {
        Some(chunk) => chunk?,
        None => {
            return Err(AppError::Internal(anyhow::anyhow!(
                "the CSV download ended before its first row"
            )));
        }
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?.map_err(|e| {
            tracing::error!("CSV download stopped: {e}");
            std::io::Error::other("the download could not be finished")
        });
        Some((chunk, rx))
    });
    let body = Body::from_stream(
        futures_util::stream::once(async { Ok::<_, std::io::Error>(first) }).chain(rest),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formulas_are_neutralised_and_the_rest_left_alone() {
        for bad in ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for fine in ["Sales", "", "O'Brien", "1=1", " =x"] {
            assert_eq!(neutralise(fine), fine);
        }
    }
}
