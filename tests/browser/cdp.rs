//! Just enough of the Chrome DevTools Protocol to use a page as a person does: open it, fill in
//! and send a form, read what it shows, and take screenshots at a size and colour scheme —
//! of the page as it is, without loading it again (a pass is shown once).

use base64::Engine as _;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long one command or page load may take.
const WAIT: Duration = Duration::from_secs(30);

/// A headless Chromium with one page, driven over its DevTools socket.
pub struct Page {
    child: Child,
    socket: Socket,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Page {
    /// Starts `chromium` (headless, with the other browser tests' flags) with a blank page.
    pub async fn open(chromium: &Path) -> Page {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(chromium)
            .args(super::HEADLESS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run chromium");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads Chromium's output to the end, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("DevTools listening on ws://127.0.0.1:") {
                    let _ = tx.send(rest.split('/').next().unwrap_or_default().to_owned());
                }
            }
        });
        let port = tokio::task::spawn_blocking(move || rx.recv_timeout(WAIT))
            .await
            .expect("join")
            .expect("chromium printed its DevTools address");
        let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .expect("targets")
            .json()
            .await
            .expect("targets JSON");
        let ws = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let (socket, _) = tokio_tungstenite::connect_async(ws)
            .await
            .expect("DevTools socket");
        let mut page = Page {
            child,
            socket,
            next_id: 0,
            _profile: profile,
        };
        page.call("Page.enable", json!({})).await;
        page
    }

    /// Sends a command and waits for its answer; `events` collects the events seen meanwhile.
    async fn call_seeing(
        &mut self,
        method: &str,
        params: Value,
        events: &mut Vec<String>,
    ) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let text = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::text(text)).await.expect("send");
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"))
                .expect("socket open")
                .expect("message");
            let Message::Text(text) = message else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).expect("DevTools JSON");
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
            if let Some(event) = v["method"].as_str() {
                events.push(event.to_owned());
            }
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.call_seeing(method, params, &mut Vec::new()).await
    }

    /// Waits for the page's next load (after a navigation or a form sent).
    async fn loaded(&mut self, mut seen: Vec<String>) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !seen.iter().any(|e| e == "Page.loadEventFired") {
            let message = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .expect("the page loaded")
                .expect("socket open")
                .expect("message");
            if let Message::Text(text) = message {
                let v: Value = serde_json::from_str(&text).expect("DevTools JSON");
                if let Some(event) = v["method"].as_str() {
                    seen.push(event.to_owned());
                }
            }
        }
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&mut self, url: &str) {
        let mut seen = Vec::new();
        self.call_seeing("Page.navigate", json!({"url": url}), &mut seen)
            .await;
        self.loaded(seen).await;
    }

    /// Runs `js` in the page; its value.
    pub async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true}),
            )
            .await;
        assert!(r.get("exceptionDetails").is_none(), "{js}: {r}");
        r["result"]["value"].clone()
    }

    /// Fills in the form that `form` selects (`name` → value; a menu's option by value or by
    /// its words; a checkbox by `yes`) and sends it as a person would (its own validation
    /// included), then waits for the answer page.
    pub async fn submit(&mut self, form: &str, fields: &[(&str, &str)]) {
        let values: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        let js = format!(
            "(() => {{ const f = document.querySelector({form:?}); if (!f) return 'no form'; \
             for (const [k, v] of Object.entries({})) {{ \
               const e = f.querySelector('[name=\"' + k + '\"]:not([type=hidden])') \
                 || f.querySelector('[name=\"' + k + '\"]'); \
               if (!e) return 'no ' + k; \
               if (e.type === 'checkbox') e.checked = v === 'yes'; \
               else if (e.tagName === 'SELECT') {{ \
                 const o = [...e.options].find(o => o.value === v || o.text === v); \
                 if (!o) return 'no option ' + v; e.value = o.value; }} \
               else e.value = v; }} \
             if (!f.reportValidity()) return 'invalid'; f.requestSubmit(); return 'sent'; }})()",
            Value::Object(values)
        );
        let mut seen = Vec::new();
        let r = self
            .call_seeing(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true}),
                &mut seen,
            )
            .await;
        assert_eq!(r["result"]["value"], "sent", "{form}: {r}");
        self.loaded(seen).await;
    }

    /// The page's visible text.
    pub async fn text(&mut self) -> String {
        self.eval("document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page as it is now at 1280 and 390 px, light and dark: `name-1280`, `name-1280-dark`,
    /// `name-390`, `name-390-dark`.
    pub async fn shots(&mut self, dir: &Path, name: &str) {
        for (width, dark) in [(1280, false), (1280, true), (390, false), (390, true)] {
            let suffix = if dark { "-dark" } else { "" };
            self.screenshot(dir, &format!("{name}-{width}{suffix}"), width, dark)
                .await;
        }
    }

    /// A screenshot of the page as it is now, `width` wide and as tall as its content, light or
    /// dark, into `dir/name.png`.
    pub async fn screenshot(&mut self, dir: &Path, name: &str, width: u32, dark: bool) -> PathBuf {
        let scheme = if dark { "dark" } else { "light" };
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await;
        let metrics = |height: u64| json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600});
        self.call("Emulation.setDeviceMetricsOverride", metrics(900))
            .await;
        let height = self
            .eval("document.documentElement.scrollHeight")
            .await
            .as_u64()
            .unwrap_or(900)
            .clamp(400, 6000);
        self.call("Emulation.setDeviceMetricsOverride", metrics(height))
            .await;
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("image data"))
            .expect("base64 PNG");
        std::fs::create_dir_all(dir).expect("screenshot dir");
        let file = dir.join(format!("{name}.png"));
        std::fs::write(&file, png).expect("write screenshot");
        file
    }
}
