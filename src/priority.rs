//! Scheduling priority for background threads: work that may lag (route inference, snapshot
//! writes) yields the CPU and the disk to the requests, which may not. Linux only; elsewhere,
//! and where the system refuses, a thread keeps its priority.

/// Lowers the calling thread's CPU priority to `nice` (Linux: the nice value is per thread)
/// and, with `idle_disk`, puts its disk reads and writes in the idle I/O class, served only
/// when no one else waits for the disk. Returns whether the CPU priority was lowered.
pub fn lower(nice: i32, idle_disk: bool) -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls about the calling thread, which gettid names; no pointers.
    unsafe {
        let tid = libc::gettid();
        if idle_disk {
            // ioprio_set(IOPRIO_WHO_PROCESS, tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT)
            const WHO_PROCESS: libc::c_int = 1;
            const CLASS_IDLE: libc::c_int = 3;
            libc::syscall(libc::SYS_ioprio_set, WHO_PROCESS, tid, CLASS_IDLE << 13);
        }
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (nice, idle_disk);
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn a_thread_lowers_its_own_priority_and_no_other() {
        let own = std::thread::spawn(|| {
            assert!(super::lower(15, true));
            // SAFETY: getpriority reads the calling thread's nice value.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        })
        .join()
        .unwrap();
        assert_eq!(own, 15);
        // SAFETY: as above, for this thread.
        let here = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert!(here < 15, "the test thread kept its priority ({here})");
    }
}
