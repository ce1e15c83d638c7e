//! A run's own profile: every puffin scope that the run's threads (the runner and each
//! variant's rayon workers) close while a [`Capture`] is open goes into one puffin frame of
//! its own, instead of into whatever UI frame the global profiler closes next.
//!
//! How: puffin lets each thread choose the function its scopes are reported to
//! (`ThreadProfiler::initialize`). A run's worker threads are started with
//! [`Capture::join`], which points them at that run's capture (so two runs at once, as in
//! parallel tests, never mix); the app's UI thread and the CLI's main thread call
//! [`init_other_thread`]. All of them report to [`report`], which sends a run thread's
//! scopes to its capture and everything else to puffin's global profiler as before, so the
//! live UI profile is unchanged. [`report`] also keeps every scope's details (name, file,
//! line) it has seen, because puffin hands them over only once per scope and a captured
//! frame must carry them all to be drawn or saved on its own.

use puffin::{FrameData, FrameView, ScopeDetails, StreamInfo, StreamInfoRef, ThreadInfo};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// One capture's streams, one per thread.
type Streams = Arc<Mutex<BTreeMap<ThreadInfo, StreamInfo>>>;

thread_local! {
    /// The capture this thread's scopes belong to (a run's worker thread), if any.
    static SINK: RefCell<Option<Streams>> = const { RefCell::new(None) };
}

/// The details of every scope reported so far (puffin reports each only once).
static SCOPES: Mutex<Vec<ScopeDetails>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind: keep using it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The reporter every initialised thread uses (see the module docs).
fn report(info: ThreadInfo, details: &[ScopeDetails], stream: &StreamInfoRef<'_>) {
    if !details.is_empty() {
        lock(&SCOPES).extend(details.iter().cloned());
    }
    let caught = SINK.with(|s| {
        s.borrow().as_ref().map(|sink| {
            lock(sink).entry(info.clone()).or_default().extend(stream);
        })
    });
    if caught.is_none() {
        puffin::GlobalProfiler::lock().report(info, details, stream);
    }
}

/// Route this thread's scopes through [`report`] without joining a capture (the UI
/// thread, the CLI's main thread), so the details of scopes it registers first are known
/// to captured frames too.
pub fn init_other_thread() {
    SINK.with(|s| *s.borrow_mut() = None);
    puffin::ThreadProfiler::initialize(puffin::now_ns, report);
}

/// A run's capture; its worker threads [`Capture::join`] it, and [`Capture::finish`]
/// turns what they reported into one frame.
#[must_use = "finish the capture to get the run's profile"]
pub struct Capture {
    streams: Streams,
}

impl Capture {
    pub fn start() -> Capture {
        Capture {
            streams: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Make the calling thread's scopes part of this capture (call it first thing on a
    /// run's worker thread, e.g. from the rayon pool's start handler).
    pub fn join(&self) -> impl Fn() + Send + Sync + 'static {
        let streams = self.streams.clone();
        move || {
            SINK.with(|s| *s.borrow_mut() = Some(streams.clone()));
            puffin::ThreadProfiler::initialize(puffin::now_ns, report);
        }
    }

    /// The run's profile, or `None` when no scope was closed (profiling off, or nothing
    /// ran). Threads that joined and still run report nothing more that counts.
    pub fn finish(self) -> Option<RunProfile> {
        let streams = std::mem::take(&mut *lock(&self.streams));
        if streams.is_empty() {
            return None;
        }
        let scopes: Vec<Arc<ScopeDetails>> = lock(&SCOPES).iter().cloned().map(Arc::new).collect();
        let frame = FrameData::new(0, streams, scopes, true).ok()?;
        Some(RunProfile {
            frame: Arc::new(frame),
        })
    }
}

/// One run's profile: a single puffin frame spanning the whole run, every thread a lane.
#[derive(Clone)]
pub struct RunProfile {
    pub frame: Arc<FrameData>,
}

impl std::fmt::Debug for RunProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RunProfile({} ms)",
            self.frame.duration_ns() as f64 / 1e6
        )
    }
}

impl RunProfile {
    /// A view holding just this frame, as puffin's profiler UI draws it.
    pub fn view(&self) -> FrameView {
        let mut v = FrameView::default();
        v.add_frame(self.frame.clone());
        v
    }

    /// Write as a `.puffin` file (what puffin_viewer and the app's Load profile read).
    pub fn write(&self, w: &mut impl std::io::Write) -> crate::Result<()> {
        self.view()
            .write(w)
            .map_err(|e| crate::Error::input(format!("cannot write the profile: {e}")))
    }

    /// Write as a `.puffin` file, atomically.
    pub fn write_file(&self, path: &std::path::Path) -> crate::Result<()> {
        let mut bytes = Vec::new();
        self.write(&mut bytes)?;
        crate::fsutil::write_bytes(path, &bytes)
    }

    /// The names of the threads (lanes) in the profile.
    pub fn thread_names(&self) -> Vec<String> {
        self.frame
            .unpacked()
            .map(|u| u.thread_streams.keys().map(|t| t.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Every scope as a span: its lane (thread), nesting depth, start and duration since
    /// the profile's start, name and dynamic data. Lanes are ordered by variant (as the
    /// threads are named after them) and thread start, spans by lane then start.
    pub fn spans(&self) -> (Vec<String>, Vec<Span>) {
        let view = self.view();
        let Ok(unpacked) = self.frame.unpacked() else {
            return (Vec::new(), Vec::new());
        };
        let t0 = unpacked.meta.range_ns.0;
        let mut threads: Vec<(&ThreadInfo, &Arc<StreamInfo>)> =
            unpacked.thread_streams.iter().collect();
        threads.sort_by_key(|(t, _)| (lane_rank(&t.name), t.start_time_ns, t.name.clone()));
        let mut lanes = Vec::new();
        let mut spans = Vec::new();
        for (lane, (info, stream)) in threads.into_iter().enumerate() {
            lanes.push(info.name.clone());
            let Ok(top) = puffin::Reader::from_start(&stream.stream).read_top_scopes() else {
                continue;
            };
            let mut todo: Vec<(puffin::Scope<'_>, usize)> =
                top.into_iter().map(|s| (s, 0)).collect();
            while let Some((scope, depth)) = todo.pop() {
                let name = view
                    .scope_collection()
                    .fetch_by_id(&scope.id)
                    .map_or_else(|| format!("scope {}", scope.id.0), |d| d.name().to_string());
                spans.push(Span {
                    lane,
                    depth,
                    start_ns: scope.record.start_ns - t0,
                    duration_ns: scope.record.duration_ns,
                    name,
                    data: scope.record.data.to_string(),
                });
                if let Ok(children) =
                    puffin::Reader::with_offset(&stream.stream, scope.child_begin_position)
                        .and_then(|r| r.read_top_scopes())
                {
                    todo.extend(children.into_iter().map(|c| (c, depth + 1)));
                }
            }
        }
        spans.sort_by_key(|s| (s.lane, s.depth, s.start_ns));
        (lanes, spans)
    }

    /// The names of every scope in the profile, without repeats, in the order of
    /// [`Self::spans`] (lane by lane, calls before their stages).
    pub fn scope_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for span in self.spans().1 {
            if !names.contains(&span.name) {
                names.push(span.name);
            }
        }
        names
    }
}

/// One scope of a run's profile, placed in time (see [`RunProfile::spans`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// Index into the lane names.
    pub lane: usize,
    /// 0 for a top-level scope (a call), 1 for its children (stages), ...
    pub depth: usize,
    /// Nanoseconds since the start of the profile.
    pub start_ns: i64,
    pub duration_ns: i64,
    pub name: String,
    /// The scope's dynamic data (e.g. "spectrum-pipeline naive repeat 2" for a call).
    pub data: String,
}

/// Lanes of the naive variant first, then vectorized, parallel, then any other thread.
fn lane_rank(name: &str) -> usize {
    crate::engine::ALL_VARIANTS
        .iter()
        .position(|v| name.starts_with(v.name()))
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_holds_its_run_threads_scopes_and_names_them() {
        puffin::set_scopes_on(true);
        let cap = Capture::start();
        let join = cap.join();
        let t = std::thread::Builder::new()
            .name("naive #0".into())
            .spawn(move || {
                join();
                puffin::profile_scope!("capture-test-outer");
                {
                    puffin::profile_scope!("capture-test-inner");
                    std::hint::black_box((0..1000).sum::<u64>());
                }
            })
            .expect("spawn");
        t.join().expect("join");
        let p = cap.finish().expect("a profile");
        assert!(
            p.thread_names().iter().any(|n| n == "naive #0"),
            "{:?}",
            p.thread_names()
        );
        let names = p.scope_names();
        assert!(names.iter().any(|n| n == "capture-test-outer"), "{names:?}");
        assert!(names.iter().any(|n| n == "capture-test-inner"), "{names:?}");
        let (lanes, spans) = p.spans();
        let lane = lanes.iter().position(|l| l == "naive #0").expect("lane");
        let outer = spans
            .iter()
            .find(|s| s.name == "capture-test-outer")
            .expect("outer");
        let inner = spans
            .iter()
            .find(|s| s.name == "capture-test-inner")
            .expect("inner");
        assert_eq!((outer.lane, outer.depth, inner.depth), (lane, 0, 1));
        assert!(inner.start_ns >= outer.start_ns && inner.duration_ns <= outer.duration_ns);
        let mut bytes = Vec::new();
        p.write(&mut bytes).expect("write");
        let back = FrameView::read(&mut bytes.as_slice()).expect("read back");
        assert_eq!(
            back.latest_frame().map(|f| f.duration_ns()),
            Some(p.frame.duration_ns())
        );
    }
}
