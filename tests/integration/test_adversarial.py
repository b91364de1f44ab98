"""A hostile client against a real pixd: every finding of the hardening audit, each as a
deterministic test (threads held at test hooks where a race must be forced, never sleeps
that hope for one). Each asserts pixd keeps serving; the ASan+UBSan pass runs them too.
"""
import json
import os
import resource
import select
import socket
import threading
import time
import unittest

from pixd_env import HOOKS, Pixd, make_image, wait_until

needs_hooks = unittest.skipUnless(HOOKS, "needs pixd built with -DPIXD_TEST_HOOKS=ON")


def alive(srv):
    """pixd still runs and answers."""
    assert srv.proc.poll() is None, "pixd died: " + srv.output()
    return srv.status()


def stop_checked(srv):
    rc = srv.stop()
    assert rc == 0, f"pixd exit {rc}"


def magic_req(body, path="/magic/base64", extra=b""):
    return (b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
            % (path.encode(), extra, len(body)) + body)


class Origin:
    """An upstream for /magic/imageurl that answers only when the test says so."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.got_request = threading.Event()
        self.go = threading.Event()
        self.answered = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        c, _ = self.sock.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(4096)
        self.got_request.set()
        self.go.wait(30)
        try:
            c.sendall(self.answer)
        except OSError:
            pass  # pixd stopped reading (a download over its limit)
        c.close()
        self.answered.set()

    def url(self, path="/img.jpg"):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.go.set()
        self.sock.close()


class CrashTest(unittest.TestCase):
    @needs_hooks
    def test_upstream_error_and_client_fin_in_one_batch(self):
        # Finding 1: the upstream's 404 and the client's FIN reach pixd while its loop is held,
        # so both events land in one epoll batch, the upstream's first. The error answer used
        # to free the connection inside curl's callback; the FIN's event then ran on freed memory.
        origin = Origin(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        srv = Pixd("--threads", "1", "--fetch-allow", "127.0.0.1/32")
        try:
            for wants_close in (True, False):
                if not wants_close:
                    origin = Origin(origin.answer)
                body = json.dumps({"image_url": origin.url()}).encode()
                c = srv.connect()
                c.send(magic_req(body, "/magic/imageurl", b"Connection: close\r\n" if wants_close else b""))
                self.assertTrue(origin.got_request.wait(30))
                srv.hold("loop_wait")
                origin.go.set()
                self.assertTrue(origin.answered.wait(30))
                c.sock.shutdown(socket.SHUT_WR)
                time.sleep(0.05)  # loopback delivers at once; this only covers a slow scheduler
                srv.release("loop_wait")
                r = c.read_response()  # the upstream's failure, then the close
                self.assertIn(r.status, (404, 502), r)
                self.assertTrue(c.closed_by_peer(timeout=30))
                c.close()
                alive(srv)
        finally:
            origin.close()
            stop_checked(srv)

    def test_pipelined_flood_behind_a_held_request(self):
        # Finding 2: a 1 MB body, then 25,000 pipelined requests queued behind a /magic request
        # the pool holds. Each answer used to recurse once per buffered request; with a 512 KiB
        # stack that overflows long before the end. Every request gets its answer, in order.
        def small_stack():
            resource.setrlimit(resource.RLIMIT_STACK, (512 * 1024, resource.RLIM_INFINITY))

        srv = Pixd("--threads", "1", "--image-workers", "1", preexec_fn=small_stack)
        n = 25000
        try:
            big = b'{"filename": "x.jpg", "image": "' + b"A" * (1 << 20) + b'!"}'
            pipelined = b"DELETE /status HTTP/1.1\r\nHost: t\r\n\r\n" * n
            c = srv.connect(timeout=60)
            sender = threading.Thread(target=lambda: c.send(magic_req(big) + pipelined))
            sender.start()
            first = c.read_response()
            self.assertEqual(first.status, 400)  # the base64 is broken on purpose: quick job
            for i in range(n):
                r = c.read_response()
                self.assertEqual(r.status, 405, (i, r))
            sender.join()
            c.close()
            st = alive(srv)
            self.assertGreaterEqual(st["requests"], n + 1)
        finally:
            stop_checked(srv)

    def test_redirect_head_holds_only_its_lines(self):
        # Finding 3: the 301 Location header of a long uid was sent with snprintf's untruncated
        # length, bytes of the stack included. Every uid length up to the longest.
        srv = Pixd()
        try:
            for n in (1, 50, 51, 60, 63, 64):
                uid = ("u" * n)
                c = srv.connect()
                c.send(f"GET /{uid}.png HTTP/1.1\r\nHost: t\r\n\r\n")
                r = c.read_response()
                c.close()
                self.assertEqual(r.status, 301)
                self.assertEqual(r.header("location"), "/" + uid)
                self.assertEqual(r.header("content-type"), "application/json")
                for k, v in r.headers.items():
                    self.assertTrue((k + v).isprintable() and (k + v).isascii(), (k, v))
                self.assertEqual(set(r.headers), {"server", "date", "location", "content-type",
                                                  "content-length"})
            alive(srv)
        finally:
            stop_checked(srv)


class MemoryTest(unittest.TestCase):
    def test_buffer_shrinks_and_head_limit_holds_after_a_body(self):
        # Finding 4: after a large body the connection kept the capacity, and the head limit
        # no longer held on that connection.
        srv = Pixd("--threads", "1", "--image-workers", "1")
        try:
            base = alive(srv)["memory"]["read_buffers"]
            big = b'{"filename": "x.jpg", "image": "' + b"A" * (8 << 20) + b'!"}'
            keep = []
            for _ in range(2):
                c = srv.connect(timeout=60)
                c.send(magic_req(big))
                self.assertEqual(c.read_response().status, 400)
                keep.append(c)
            mem = alive(srv)["memory"]
            # two idle keep-alive connections and the /status one: small buffers each
            self.assertLess(mem["read_buffers"] - base, 3 * 64 * 1024, mem)
            self.assertEqual(mem["bodies"], 0)
            c = keep[0]
            c.send(b"GET /status HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 50000 + b"\r\n\r\n")
            self.assertEqual(c.read_response().status, 431)
            self.assertTrue(c.closed_by_peer())
            for k in keep:
                k.close()
        finally:
            stop_checked(srv)

    def test_body_memory_budget(self):
        # Finding 4: nothing bounded the sum of bodies in memory. With an 8 MiB budget, a 6 MB
        # body in flight leaves no room for a second one: 503 with Retry-After, at once.
        srv = Pixd("--threads", "1", "--max-body-memory-mb", "8")
        try:
            size = 6 << 20
            head = (b"POST /magic/base64 HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n" % size)
            a = srv.connect(timeout=60)
            a.send(head + b"{")  # its body is on the way
            st = alive(srv)["memory"]
            self.assertEqual((st["bodies"], st["bodies_max"]), (size, 8 << 20))
            b = srv.connect(timeout=60)
            b.send(head)
            r = b.read_response()
            self.assertEqual((r.status, r.header("retry-after")), (503, "1"), r)
            self.assertIn(b"too many request bodies", r.body)
            self.assertTrue(b.closed_by_peer())
            b.close()
            a.send(b"x" * (size - 1))
            self.assertEqual(a.read_response().status, 400)
            self.assertEqual(alive(srv)["memory"]["bodies"], 0)  # given back with the answer
            c = srv.connect(timeout=60)  # room again
            c.send(head + b"x" * size)
            self.assertEqual(c.read_response().status, 400)
            a.close()
            c.close()
        finally:
            stop_checked(srv)

    def test_downloads_count_against_the_budget(self):
        # Downloads for /magic/imageurl share the budget of request bodies: one larger than
        # all of it is cut off with 503, and its memory is given back.
        data = os.urandom(2 << 20)
        origin = Origin(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
        origin.go.set()
        srv = Pixd("--threads", "1", "--max-body-memory-mb", "1", "--fetch-allow", "127.0.0.1/32")
        try:
            c = srv.connect(timeout=30)
            body = json.dumps({"image_url": origin.url()}).encode()
            r = c.request("POST", "/magic/imageurl", {"Content-Type": "application/json"}, body)
            self.assertEqual((r.status, r.header("retry-after")), (503, "1"), r)
            self.assertIn(b"too many downloads in memory", r.body)
            self.assertEqual(alive(srv)["memory"]["bodies"], 0)
            c.close()
        finally:
            origin.close()
            stop_checked(srv)

    def test_early_answer_survives_the_unread_body(self):
        # A 413 sent while the client still sends its body: closing with those bytes unread
        # would reset the connection and destroy the answer before the client reads it. pixd
        # half-closes and reads on (lingering close), so the client gets its 413.
        srv = Pixd("--threads", "1", "--max-body-mb", "1")
        try:
            for _ in range(3):
                c = srv.connect(timeout=30)
                size = 4 << 20
                head = b"POST /magic/base64 HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size
                def send():
                    try:
                        c.sock.sendall(head + b"x" * size)
                    except OSError:
                        pass  # pixd stops reading after its linger, or the socket closed

                sender = threading.Thread(target=send, daemon=True)
                sender.start()
                r = c.read_response()
                self.assertEqual(r.status, 413)
                self.assertEqual(r.header("connection"), "close")
                c.sock.shutdown(socket.SHUT_RDWR)
                sender.join(30)
                c.close()
            alive(srv)
        finally:
            stop_checked(srv)

    def test_chunk_over_the_limit_refused_at_once(self):
        # A chunk announced larger than --max-body-mb is refused when announced, not after
        # the body timeout (its bytes never come).
        srv = Pixd("--threads", "1", "--max-body-mb", "1", "--body-timeout", "600")
        try:
            c = srv.connect(timeout=30)
            c.send(b"POST /magic/base64 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"10\r\n0123456789abcdef\r\n200000\r\nabc")
            r = c.read_response()
            self.assertEqual(r.status, 413)
            self.assertEqual(alive(srv)["memory"]["bodies"], 0)
            c.close()
        finally:
            stop_checked(srv)

    def test_trickled_body_gets_408(self):
        # Finding 5: the body timeout was a stall timer, so a byte every 0.2 s outlived it
        # forever. The default minimum rate (1 KiB/s) after the grace period ends it: 408 long
        # before 40 bytes.
        srv = Pixd("--threads", "1", "--body-timeout", "1")
        try:
            c = srv.connect(timeout=30)
            c.send(b"POST /magic/base64 HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(40):
                try:
                    c.send(b"x")
                except OSError:
                    break
                if select.select([c.sock], [], [], 0.2)[0]:
                    break  # pixd spoke (or closed): the answer is read below
            else:
                self.fail("40 bytes trickled over 8 s and the body still open")
            try:
                got = c.read_response()
            except ConnectionError:
                self.fail("closed without a 408")
            self.assertEqual(got.status, 408)
            c.close()
            alive(srv)
        finally:
            stop_checked(srv)


class AdmissionTest(unittest.TestCase):
    def setUp(self):
        self.img = make_image("JPEG", size=(64, 48))
        import base64
        self.body = json.dumps({"filename": "a.jpg", "image": base64.b64encode(self.img).decode()}).encode()

    def held_job(self, srv):
        """A connection whose job an image thread has taken and stands still on."""
        srv.arm("pool_job")
        c = srv.connect(timeout=60)
        c.send(magic_req(self.body))
        srv.wait_held("pool_job")
        return c

    @needs_hooks
    def test_queue_is_bounded(self):
        # Finding 8: the job queue had no bound. One job held on the only image thread, two
        # queued: the next gets 503 with Retry-After at once; the held and queued ones finish.
        srv = Pixd("--threads", "1", "--image-workers", "1", "--max-queue", "2")
        try:
            conns = [self.held_job(srv)]
            for _ in range(2):
                conns.append(srv.connect(timeout=60))
                conns[-1].send(magic_req(self.body))
            over = srv.connect()
            over.send(magic_req(self.body))
            r = over.read_response()
            self.assertEqual((r.status, r.header("retry-after")), (503, "1"))
            self.assertIn(b"too many image jobs", r.body)
            jobs = alive(srv)["jobs"]
            self.assertEqual((jobs["running"], jobs["queued"], jobs["refused"]), (1, 2, 1))
            srv.release("pool_job")
            for c in conns:
                self.assertEqual(c.read_response().status, 200)
        finally:
            stop_checked(srv)

    @needs_hooks
    def test_job_of_a_client_that_left_is_dropped(self):
        srv = Pixd("--threads", "1", "--image-workers", "1")
        try:
            first = self.held_job(srv)
            gone = srv.connect()
            gone.send(magic_req(self.body))
            while alive(srv)["jobs"]["queued"] < 1:  # its job waits: pixd watches its socket now
                time.sleep(0.01)
            gone.close()
            alive(srv)  # its FIN reached pixd's epoll before this request did: the job is marked
            srv.release("pool_job")
            self.assertEqual(first.read_response().status, 200)
            for _ in range(600):  # the drop is reported when the pool reaches the job
                jobs = alive(srv)["jobs"]
                if jobs["dropped"]:
                    break
                time.sleep(0.05)
            self.assertEqual((jobs["done"], jobs["dropped"]), (1, 1))
        finally:
            stop_checked(srv)

    @needs_hooks
    def test_sigterm_answers_queued_jobs_503(self):
        # Finding 8: SIGTERM ran the whole backlog. Now the jobs not started get 503 at once,
        # the running one finishes, and pixd exits 0.
        import signal
        srv = Pixd("--threads", "1", "--image-workers", "1")
        try:
            running = self.held_job(srv)
            queued = [srv.connect(timeout=60) for _ in range(3)]
            for c in queued:
                c.send(magic_req(self.body))
            while alive(srv)["jobs"]["queued"] < 3:
                time.sleep(0.01)
            srv.proc.send_signal(signal.SIGTERM)
            for c in queued:  # answered while the running job still stands still
                r = c.read_response()
                self.assertEqual((r.status, r.header("retry-after"), r.header("connection")), (503, "1", "close"))
            srv.release("pool_job")
            r = running.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(srv.proc.wait(30), 0)
        finally:
            stop_checked(srv)


def fnv1a64(data):
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return '"%016x"' % h


class OriginFailureTest(unittest.TestCase):
    """Finding 10: under load on /magic/imageurl with Python's http.server as the origin, a few
    requests failed. They were 504s: http.server listens with a queue of 5, the kernel drops
    the SYNs past it, and curl's retries ran into the connect timeout. Every way an origin can
    fail must give a clear 502/504 with a JSON reason, never a reset or a hang."""

    def setUp(self):
        self.srv = Pixd("--threads", "1", "--fetch-allow", "127.0.0.1/32", "--fetch-connect-timeout", "0.5",
                        "--fetch-timeout", "2")

    def tearDown(self):
        stop_checked(self.srv)

    def fetch(self, url):
        c = self.srv.connect(timeout=30)
        body = json.dumps({"image_url": url}).encode()
        r = c.request("POST", "/magic/imageurl", {"Content-Type": "application/json"}, body)
        c.close()
        self.assertEqual(r.header("content-type"), "application/json")
        return r.status, json.loads(r.body)["error"]

    def test_listen_queue_full(self):
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)  # never accepts; one waiting connection fills its queue
        port = lst.getsockname()[1]
        fill = [socket.create_connection(("127.0.0.1", port), timeout=5)]
        try:
            self.assertEqual(self.fetch(f"http://127.0.0.1:{port}/x.jpg"), (504, "image_url connect timed out"))
        finally:
            for f in fill:
                f.close()
            lst.close()

    def test_origin_resets_or_closes(self):
        for how in ("reset", "close", "half-head"):
            lst = socket.socket()
            lst.bind(("127.0.0.1", 0))
            lst.listen(8)

            def serve():
                c, _ = lst.accept()
                c.recv(65536)
                if how == "half-head":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
                if how != "close":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()

            t = threading.Thread(target=serve, daemon=True)
            t.start()
            status, reason = self.fetch(f"http://127.0.0.1:{lst.getsockname()[1]}/x.jpg")
            self.assertEqual((status, reason), (502, "image_url download failed"), how)
            t.join()
            lst.close()
        alive(self.srv)


class LargeAvatarTest(unittest.TestCase):
    @needs_hooks
    def test_large_avatar_read_once_per_version_off_the_loop(self):
        # Finding 7: an avatar larger than a quarter of the cache was read, hashed and copied on
        # the event loop on every request. Now it is read on the pool, once per version: held
        # there, the loop answers others meanwhile; later requests reuse the snapshot; a
        # rewrite in place gives a new snapshot whose bytes match its ETag.
        srv = Pixd("--threads", "1", "--image-workers", "1", "--cache-mb", "4")
        try:
            first = os.urandom(3 << 19)
            srv.write("big.png", first)
            srv.arm("pool_job")
            c = srv.connect(timeout=60)
            c.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
            srv.wait_held("pool_job")
            st = alive(srv)  # answered while the file is being read
            self.assertEqual(st["jobs"]["running"], 1)
            self.assertEqual(srv.connect().request("GET", "/-1").status, 200)
            srv.release("pool_job")
            r = c.read_response()
            self.assertEqual((r.status, r.body == first, r.header("etag")), (200, True, fnv1a64(first)))
            for _ in range(4):
                r = c.request("GET", "/big")
                self.assertEqual((r.status, r.body == first), (200, True))
            cache = alive(srv)["cache"]
            self.assertEqual((cache["slow_loads"], cache["large_entries"], cache["large_bytes"]), (1, 1, 3 << 19))
            second = os.urandom(3 << 19)
            with open(os.path.join(srv.dir, "big.png"), "r+b") as f:  # in place, same size
                f.write(second)
            # inotify's word reaches pixd's loop in its own time
            r = wait_until(lambda: (lambda r: r if r.body == second else None)(c.request("GET", "/big")),
                           "the rewritten file is not served")
            self.assertEqual((r.status, r.header("etag")), (200, fnv1a64(second)))
            # a read that raced the rewrite may have made one snapshot more, never fewer
            self.assertGreaterEqual(alive(srv)["cache"]["slow_loads"], 2)
            c.close()
        finally:
            stop_checked(srv)


class DescriptorTest(unittest.TestCase):
    def test_out_of_descriptors_pauses_accept(self):
        # With its descriptors used up, pixd leaves new connections queued in the kernel and
        # pauses accepting instead of spinning on a listener that stays readable; once
        # connections close it serves the queued ones.
        def few_fds():
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

        srv = Pixd("--threads", "1", "--image-workers", "1", preexec_fn=few_fds)
        try:
            first = []
            for _ in range(80):  # more than pixd has descriptors for
                c = srv.connect(timeout=30)
                c.send(b"GET /status HTTP/1.1\r\nHost: t\r\n\r\n")
                first.append(c)
            answered = [c for c in first if select.select([c.sock], [], [], 0.5 if c is first[0] else 0)[0]]
            self.assertLess(len(answered), 80)

            def cpu_s():
                with open(f"/proc/{srv.proc.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

            c0, t0 = cpu_s(), time.monotonic()
            time.sleep(1)
            used, wall = cpu_s() - c0, time.monotonic() - t0
            self.assertLess(used, 0.3 * wall, "pixd spun while out of descriptors")
            for c in answered:
                self.assertEqual(c.read_response().status, 200)
                c.close()
            for c in first:
                if c not in answered:
                    self.assertEqual(c.read_response().status, 200)
                    c.close()
        finally:
            stop_checked(srv)


class SlowlorisTest(unittest.TestCase):
    def test_slow_clients_do_not_starve_others(self):
        # 2,000 connections send a head or a body a byte at a time; meanwhile a normal client
        # gets every avatar it asks for, and the slow ones are closed by the timeouts.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 2000
        if soft < want + 200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want + 200), hard))
        want = min(want, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200)
        srv = Pixd("--threads", "2", "--header-timeout", "2", "--body-timeout", "2")
        slow = []
        try:
            for i in range(want):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
                s.setblocking(False)
                slow.append(s)
                # half trickle a head, half a body after a complete head
                if i % 2:
                    s.send(b"POST /magic/base64 HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            normal = srv.connect(timeout=30)
            got = 0
            closed = set()
            rounds = 0
            while len(closed) < len(slow) and rounds < 400:
                rounds += 1
                for i, s in enumerate(slow):
                    if i in closed:
                        continue
                    try:
                        s.send(b"G" if i % 2 == 0 else b"x")
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        closed.add(i)
                        continue
                    try:
                        if s.recv(4096) == b"":
                            closed.add(i)
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed.add(i)
                r = normal.request("GET", "/1000")
                self.assertEqual(r.status, 200)
                got += 1
                time.sleep(0.05)
            self.assertEqual(len(closed), len(slow), "slow connections outlived the timeouts")
            self.assertEqual(got, rounds)
            normal.close()
            alive(srv)
        finally:
            for s in slow:
                s.close()
            stop_checked(srv)


if __name__ == "__main__":
    unittest.main()
