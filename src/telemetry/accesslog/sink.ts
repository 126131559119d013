/**
 * Non-blocking access log sinks. `write(line)` appends to an in-memory buffer and returns;
 * one asynchronous write drains it at a time. When the destination is slow the buffer fills
 * and further lines are dropped (counted); when it is gone (open or write fails) every line is
 * dropped (counted). The proxy never waits for a log line.
 */
import type { FileHandle } from 'node:fs/promises';

/** Counters of a sink. */
export interface SinkStats {
  written: number;
  dropped: number;
  /** Write or open failures. */
  errors: number;
}

/** Where access log lines go. */
export interface LogSink {
  /** Queues one line (a newline is added). Never blocks, never throws. */
  write(line: string): void;
  readonly stats: SinkStats;
  /** Resolves when everything queued so far has been written (or dropped). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Something that accepts one chunk at a time and calls back when done (a file, a socket, a test). */
export interface ChunkWriter {
  write(chunk: string): Promise<void>;
  close?(): Promise<void>;
}

/** A sink on any ChunkWriter, with a bounded buffer (default 1 MiB). */
export class BufferedSink implements LogSink {
  readonly stats: SinkStats = { written: 0, dropped: 0, errors: 0 };
  private buf: string[] = [];
  private bufBytes = 0;
  private busy: Promise<void> | undefined;
  private dead = false;

  constructor(
    private readonly target: () => Promise<ChunkWriter>,
    private readonly maxBufferBytes = 1 << 20,
  ) {}

  private writer: Promise<ChunkWriter> | undefined;

  write(line: string): void {
    if (this.dead || this.bufBytes + line.length + 1 > this.maxBufferBytes) {
      this.stats.dropped++;
      return;
    }
    this.buf.push(line);
    this.bufBytes += line.length + 1;
    if (!this.busy) this.busy = this.pump();
  }

  private async pump(): Promise<void> {
    try {
      this.writer ??= this.target();
      const w = await this.writer;
      while (this.buf.length > 0) {
        const lines = this.buf;
        this.buf = [];
        this.bufBytes = 0;
        await w.write(lines.join('\n') + '\n');
        this.stats.written += lines.length;
      }
    } catch {
      this.stats.errors++;
      this.dead = true;
      this.stats.dropped += this.buf.length;
      this.buf = [];
      this.bufBytes = 0;
    } finally {
      this.busy = undefined;
    }
  }

  async drain(): Promise<void> {
    while (this.busy) await this.busy;
  }

  async close(): Promise<void> {
    await this.drain();
    this.dead = true;
    if (this.writer) {
      try {
        const w = await this.writer;
        await w.close?.();
      } catch {}
    }
  }
}

/** Writes chunks to the process's stdout/stderr stream, one at a time (the callback is the backpressure). */
function streamWriter(stream: NodeJS.WriteStream): ChunkWriter {
  return {
    write: (chunk) => new Promise<void>((resolve, reject) => stream.write(chunk, (err) => (err ? reject(err) : resolve()))),
  };
}

/**
 * A sink appending to a file path. `/dev/stdout` and `/dev/stderr` write to the process's own
 * streams: opening `/dev/stdout` fails when stdout is a socket (a supervisor, a container
 * runtime, node's child_process pipes).
 */
export function fileSink(path: string, maxBufferBytes?: number): LogSink {
  if (path === '/dev/stdout' || path === '/dev/stderr') {
    const stream = path === '/dev/stdout' ? process.stdout : process.stderr;
    return new BufferedSink(async () => streamWriter(stream), maxBufferBytes);
  }
  return new BufferedSink(async () => {
    // node:fs/promises (and readline with it, ~0.4 MB RSS) is loaded by the first file sink only.
    const { open } = await import('node:fs/promises');
    const fh: FileHandle = await open(path, 'a');
    return {
      write: async (chunk) => {
        await fh.write(chunk);
      },
      close: () => fh.close(),
    };
  }, maxBufferBytes);
}
