//! Slow clients ("slowloris"): what a server's header timeout is there to cut off, for the
//! end-to-end tests and the load generator alike.

use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Writes a header line `{prefix}-{n}: 1` a second to `w`, after the request line the caller
/// sent, until a write fails (the server closed the connection) or `lines` were written.
pub async fn trickle_headers<W: AsyncWrite + Unpin>(w: &mut W, prefix: &str, lines: u64) {
    for i in 0..lines {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if w.write_all(format!("{prefix}-{i}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
}
