/*
 * TinyLab's virtual Arduino Uno: an ATmega328P in simavr whose UART0 is a pseudo-terminal.
 *
 * Usage: tinylab-harness [-m MCU] [-f HZ] [-s SPEED] [-d MS] [-R] [-w] [-b BOOT.hex] [FIRMWARE.elf]
 *
 *   -m MCU    simavr core name (default atmega328p)
 *   -f HZ     clock when the ELF carries none (default 16000000, the Uno's crystal)
 *   -s SPEED  pace simulated time at SPEED x real time (default 1; 0 = run flat out)
 *   -d MS     on reset-on-open, hold the MCU in reset this long (default 250 ms)
 *   -R        do NOT reset the MCU when a program opens the pty (a real Uno resets: DTR);
 *             without -R the MCU also stays in reset until the pty is first opened
 *   -w        exit cleanly when stdin closes (the Python side keeps a pipe open, so a
 *             crashed or killed host never leaves a harness behind)
 *   -b HEX    bootloader mode: load this bootloader (Intel HEX, e.g. the Uno's Optiboot) at
 *             its own address and start there on every reset, as the Uno's BOOTRST fuse does;
 *             FIRMWARE.elf is then optional (the application already in flash, else none).
 *             A reset-on-open sets MCUSR's EXTRF (an external reset: what DTR does), so
 *             Optiboot waits for an upload; the watchdog reset it ends with starts the sketch.
 *
 * Contract with tinylab/virtual.py:
 *   - stdout carries exactly one line, JSON: {"pty": "/dev/pts/N", "mcu": "atmega328p",
 *     "frequency_hz": 16000000, "reset_on_open": true, "speed": 1, "pid": N}
 *     (simavr's own chatter is redirected to stderr so stdout stays machine-readable);
 *   - SIGTERM, SIGINT or SIGHUP (or stdin closing under -w) -> exit status 0;
 *   - exit 2: bad arguments or firmware; 3: the MCU crashed (simavr cpu_Crashed);
 *     4: the MCU halted for good (cpu_Done: it slept with interrupts off); 5: pty set-up failed.
 *     The reason is the last line on stderr, starting "tinylab-harness:".
 *
 * Time: simavr runs as fast as the host allows (a busy-polling Arduino loop() never sleeps),
 * so the main loop runs 1 ms of simulated time, then sleeps until the wall clock catches up.
 * A sleeping AVR skips ahead to its next timer without sleeping the host (the sleep callback
 * is a no-op), and the same pacing turns that into a real sleep. An idle board therefore costs
 * only the share of a core that 16 MHz of AVR takes to simulate.
 *
 * Build: cc -O2 -o tinylab-harness harness.c -I/usr/include/simavr -lsimavr -lsimavrparts -lelf -lpthread -lutil
 * (tinylab.virtual builds and caches it on first use.)
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_hex.h"
#include "avr_uart.h"
#include "parts/uart_pty.h"

enum {
	EXIT_STOPPED = 0,
	EXIT_USAGE = 2,
	EXIT_CRASHED = 3,
	EXIT_HALTED = 4,
	EXIT_PTY = 5,
};

/* Simulated time run between two looks at the clock, signals, stdin and the pty: 1 ms keeps
 * serial latency far below a line's transmit time at 115200 baud (~87 us per byte). */
#define SLICE_US 1000
/* If the host falls this far behind real time (a slow or busy machine), stop trying to catch
 * up: re-anchor the clock rather than run a burst at full speed. */
#define MAX_LAG_NS (100 * 1000000LL)
/* Cap on simavr log lines copied to stderr (a runaway firmware can log one per instruction). */
#define MAX_LOG_LINES 100

static volatile sig_atomic_t stop_signal = 0;
static int log_lines = 0;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ns(long long ns)
{
	if (ns <= 0)
		return;
	struct timespec t = { ns / 1000000000LL, ns % 1000000000LL };
	nanosleep(&t, NULL);	/* a signal cuts it short: the loop then sees stop_signal */
}

/* simavr's logger, capped so a firmware gone wild cannot fill the disk. */
static void capped_logger(struct avr_t *avr, const int level, const char *format, va_list ap)
{
	(void)avr;
	if (level > LOG_WARNING)
		return;
	if (log_lines == MAX_LOG_LINES) {
		fprintf(stderr, "tinylab-harness: (further simavr messages suppressed)\n");
		log_lines++;
	}
	if (log_lines > MAX_LOG_LINES)
		return;
	log_lines++;
	vfprintf(stderr, format, ap);
}

/* Pacing does all the sleeping (see the top of the file), so simavr's own sleep is a no-op. */
static void no_sleep(avr_t *avr, avr_cycle_count_t how_long)
{
	(void)avr;
	(void)how_long;
}

static void usage(const char *program)
{
	fprintf(stderr, "usage: %s [-m MCU] [-f HZ] [-s SPEED] [-d MS] [-R] [-w] [-b BOOT.hex] "
			"[FIRMWARE.elf]\n",
			program);
}

/* Raw mode on the pty's slave side, held open for the harness's lifetime. Without this, the
 * slave's default line discipline echoes what the AVR prints (before any host has opened the
 * port) straight back into the AVR's RX: an echo sketch would talk to itself. */
static int hold_slave_raw(const char *slave_name)
{
	int fd = open(slave_name, O_RDWR | O_NOCTTY);
	if (fd < 0)
		return -1;
	struct termios tio;
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
	}
	return fd;
}

/* True when a program (the host) opened the pty since the last call. */
static int pty_was_opened(int inotify_fd)
{
	char buffer[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int opened = 0;
	ssize_t length;
	while ((length = read(inotify_fd, buffer, sizeof(buffer))) > 0) {
		for (char *p = buffer; p < buffer + length; ) {
			struct inotify_event *event = (struct inotify_event *)p;
			if (event->mask & IN_OPEN)
				opened = 1;
			p += sizeof(struct inotify_event) + event->len;
		}
	}
	return opened;
}

/* While the MCU is held in reset, drop what the host sent before: a real MCU's UART loses it
 * in the reset too. Otherwise bytes that a sketch with its UART off never took (a host's
 * probes, an upload cut short) wait in uart_pty's queue, and the next bootloader reads them
 * first, loses sync and starts the sketch: the upload fails. uart_pty's "out" fifo holds what
 * the host sent; the main thread (the AVR's side) is its only reader, so draining it here is
 * safe. */
DEFINE_FIFO(uint8_t, uart_pty_fifo);	/* the fifo's functions (static inline), as uart_pty.c has them */

static void drop_host_bytes(uart_pty_t *uart)
{
	while (!uart_pty_fifo_isempty(&uart->port[0].out))
		uart_pty_fifo_read(&uart->port[0].out);
}

/* True when stdin reached end of file (the host process went away or asked us to stop). */
static int stdin_closed(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
		return 1;
	char discard[256];
	return read(0, discard, sizeof(discard)) == 0;
}

/* uart_pty points /tmp/simavr-uart0 at the newest board; tidy it if it is ours. */
static void remove_shared_link(const char *slave_name)
{
	char target[128];
	ssize_t n = readlink("/tmp/simavr-uart0", target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = 0;
		if (!strcmp(target, slave_name))
			unlink("/tmp/simavr-uart0");
	}
}

int main(int argc, char *argv[])
{
	const char *mcu = "atmega328p";
	unsigned long frequency_hz = 16000000UL;
	double speed = 1.0;
	long reset_hold_ms = 250;
	int reset_on_open = 1, watch_stdin = 0, option;
	const char *bootloader_path = NULL;

	while ((option = getopt(argc, argv, "m:f:s:d:Rwb:")) != -1) {
		switch (option) {
			case 'm': mcu = optarg; break;
			case 'f': frequency_hz = strtoul(optarg, NULL, 10); break;
			case 's': speed = atof(optarg); break;
			case 'd': reset_hold_ms = atol(optarg); break;
			case 'R': reset_on_open = 0; break;
			case 'w': watch_stdin = 1; break;
			case 'b': bootloader_path = optarg; break;
			default: usage(argv[0]); return EXIT_USAGE;
		}
	}
	int firmwares = argc - optind;
	if (firmwares > 1 || (firmwares == 0 && !bootloader_path) || frequency_hz == 0 || speed < 0
			|| reset_hold_ms < 0) {
		usage(argv[0]);
		return EXIT_USAGE;
	}
	const char *firmware_path = firmwares ? argv[optind] : NULL;

	/* stdout is reserved for the one JSON line; everything simavr prints goes to stderr. */
	int json_fd = dup(STDOUT_FILENO);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IONBF, 0);
	avr_global_logger_set(capped_logger);

	struct sigaction action;
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_stop_signal;	/* no SA_RESTART: a signal interrupts nanosleep */
	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGHUP, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	elf_firmware_t firmware;
	memset(&firmware, 0, sizeof(firmware));
	if (firmware_path && (access(firmware_path, R_OK) != 0
			|| elf_read_firmware(firmware_path, &firmware) != 0)) {
		fprintf(stderr, "tinylab-harness: cannot read the firmware ELF %s\n", firmware_path);
		return EXIT_USAGE;
	}
	if (!firmware.mmcu[0])
		snprintf(firmware.mmcu, sizeof(firmware.mmcu), "%s", mcu);
	if (!firmware.frequency)
		firmware.frequency = frequency_hz;

	avr_t *avr = avr_make_mcu_by_name(firmware.mmcu);
	if (!avr) {
		fprintf(stderr, "tinylab-harness: simavr does not know the MCU '%s'\n", firmware.mmcu);
		return EXIT_USAGE;
	}
	avr_init(avr);
	if (firmware_path)
		avr_load_firmware(avr, &firmware);
	else
		avr->frequency = firmware.frequency;
	if (!firmware_path) {
		/* No application: the flash is erased (0xFF). A real chip runs through those words to
		 * the bootloader and sits there; simavr ends up crashing on the way (2.5 s after a
		 * port opens). One "rjmp ." at 0x0000 makes the board sit silent instead, as an
		 * erased Uno does, until an upload writes over it. */
		avr->flash[0] = 0xff;
		avr->flash[1] = 0xcf;
	}
	if (bootloader_path) {
		/* Optiboot's HEX has two chunks: the code at 0x7e00 and its version word at 0x7ffe.
		 * The bootloader starts at the lowest address. */
		ihex_chunk_p chunks = NULL;
		int n_chunks = access(bootloader_path, R_OK) == 0
				? read_ihex_chunks(bootloader_path, &chunks) : -1;
		uint32_t boot_base = UINT32_MAX;
		for (int i = 0; i < n_chunks; i++) {
			if (chunks[i].baseaddr + chunks[i].size > avr->flashend + 1) {
				n_chunks = -1;
				break;
			}
			if (chunks[i].baseaddr < boot_base)
				boot_base = chunks[i].baseaddr;
		}
		if (n_chunks <= 0) {
			fprintf(stderr, "tinylab-harness: cannot load the bootloader %s (an Intel HEX file "
					"that fits the %s's flash)\n", bootloader_path, firmware.mmcu);
			return EXIT_USAGE;
		}
		for (int i = 0; i < n_chunks; i++)
			memcpy(avr->flash + chunks[i].baseaddr, chunks[i].data, chunks[i].size);
		free_ihex_chunks(chunks);
		avr->reset_pc = boot_base;	/* the BOOTRST fuse: every reset starts the bootloader */
		avr->pc = boot_base;
		avr->codeend = avr->flashend;	/* the bootloader writes code anywhere below itself */
	}
	avr->sleep = no_sleep;
	avr->log = LOG_WARNING;

	static uart_pty_t uart_pty;
	uart_pty_init(avr, &uart_pty);
	uart_pty_connect(&uart_pty, '0');
	/* simavr sleeps 1 us of real time whenever the firmware polls an empty UART (Optiboot's
	 * getch() does; Arduino's Serial uses interrupts): with the pacing below, that made the
	 * bootloader's 1 s timeout last minutes. The pacing keeps time; the sleep must go. */
	uint32_t uart_flags = 0;
	if (avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &uart_flags) == 0) {
		uart_flags &= ~AVR_UART_FLAG_POLL_SLEEP;
		avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &uart_flags);
	}
	const char *slave_name = uart_pty.port[0].slavename;
	int slave_fd = slave_name[0] ? hold_slave_raw(slave_name) : -1;
	if (slave_fd < 0) {
		fprintf(stderr, "tinylab-harness: could not create a pty for the UART (%s)\n",
				strerror(errno));
		return EXIT_PTY;
	}
	int inotify_fd = -1;
	if (reset_on_open) {
		inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (inotify_fd < 0 || inotify_add_watch(inotify_fd, slave_name, IN_OPEN) < 0) {
			fprintf(stderr, "tinylab-harness: warning: cannot watch %s (%s); the board will "
					"not reset when the port is opened\n", slave_name, strerror(errno));
			if (inotify_fd >= 0)
				close(inotify_fd);
			inotify_fd = -1;
		}
	}

	dprintf(json_fd, "{\"pty\": \"%s\", \"mcu\": \"%s\", \"frequency_hz\": %lu, "
			"\"reset_on_open\": %s, \"speed\": %g, \"bootloader\": %s, \"pid\": %d}\n",
			slave_name, firmware.mmcu, (unsigned long)avr->frequency,
			inotify_fd >= 0 ? "true" : "false", speed, bootloader_path ? "true" : "false",
			(int)getpid());
	close(json_fd);

	const avr_cycle_count_t slice_cycles = (avr_cycle_count_t)avr->frequency / (1000000 / SLICE_US);
	const double ns_per_cycle = speed > 0 ? 1e9 / ((double)avr->frequency * speed) : 0;
	avr_cycle_count_t anchor_cycle = avr->cycle;
	long long anchor_ns = now_ns(), release_ns = LLONG_MAX;
	/* With reset-on-open the board "powers on" when the port is first opened: nothing the
	 * MCU prints can be half-sent (and half-flushed by the host) at that moment. */
	int held_in_reset = inotify_fd >= 0, exit_status = EXIT_STOPPED;

	while (!stop_signal) {
		if (!held_in_reset) {
			avr_cycle_count_t slice_end = avr->cycle + slice_cycles;
			int state = cpu_Running;
			while (avr->cycle < slice_end) {
				state = avr_run(avr);
				if (state == cpu_Done || state == cpu_Crashed)
					break;
			}
			if (state == cpu_Crashed) {
				fprintf(stderr, "tinylab-harness: the simulated %s crashed (simavr state "
						"cpu_Crashed) after %.3f s of simulated time: the firmware jumped "
						"outside flash, touched memory that does not exist, or overran its "
						"stack\n", firmware.mmcu, (double)avr->cycle / avr->frequency);
				exit_status = EXIT_CRASHED;
				break;
			}
			if (state == cpu_Done) {
				fprintf(stderr, "tinylab-harness: the simulated %s halted for good (simavr "
						"state cpu_Done) at pc=0x%04x after %.3f s of simulated time: it went to "
						"sleep with interrupts disabled, so nothing can wake it\n", firmware.mmcu,
						(unsigned)avr->pc, (double)avr->cycle / avr->frequency);
				exit_status = EXIT_HALTED;
				break;
			}
		}

		long long now = now_ns();
		if (inotify_fd >= 0 && pty_was_opened(inotify_fd)) {
			/* A real Uno resets when its port opens (DTR); hold the reset long enough for
			 * the host to finish opening (pyserial flushes its input as it opens). */
			held_in_reset = 1;
			release_ns = now + reset_hold_ms * 1000000LL;
		}
		if (held_in_reset)
			drop_host_bytes(&uart_pty);
		if (held_in_reset && now >= release_ns) {
			/* Drop what the MCU sent before the reset and reached the pty after the host's
			 * own flush: the host's first line is then the fresh banner. */
			tcflush(slave_fd, TCIFLUSH);
			avr_reset(avr);
			avr->state = cpu_Running;	/* a reset wakes a sleeping MCU */
			/* DTR pulls RESET low: an external reset, which Optiboot answers by waiting for
			 * an upload (after a watchdog or power-on reset it starts the sketch at once). */
			avr_regbit_set(avr, avr->reset_flags.extrf);
			held_in_reset = 0;
			anchor_cycle = avr->cycle;
			anchor_ns = now;
		}
		if (watch_stdin && stdin_closed())
			break;

		if (held_in_reset) {
			/* Nothing to simulate: block until the port is opened, stdin closes, a signal
			 * arrives or the reset is due (at most 100 ms, so nothing is ever missed). */
			long long wait_ms = release_ns == LLONG_MAX ? 100 : (release_ns - now) / 1000000 + 1;
			struct pollfd watched[2] = { { .fd = inotify_fd, .events = POLLIN },
					{ .fd = watch_stdin ? 0 : -1, .events = POLLIN } };
			poll(watched, 2, (int)(wait_ms < 100 ? wait_ms : 100));
		} else if (ns_per_cycle > 0) {
			long long ahead_ns = (long long)((avr->cycle - anchor_cycle) * ns_per_cycle)
					- (now - anchor_ns);
			if (ahead_ns > 0) {
				sleep_ns(ahead_ns);
			} else if (-ahead_ns > MAX_LAG_NS) {
				anchor_cycle = avr->cycle;
				anchor_ns = now;
			}
		}
	}

	if (exit_status != EXIT_STOPPED)
		sleep_ns(50 * 1000000LL);	/* let uart_pty hand the firmware's last words to the host */
	remove_shared_link(slave_name);
	/* Leave without tearing simavr down: the pty thread may still be inside the library, and
	 * the kernel closes the pty and frees everything anyway. */
	fflush(stdout);
	_exit(exit_status);
}
