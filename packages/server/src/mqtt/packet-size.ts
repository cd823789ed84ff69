/**
 * Bounds the size of MQTT packets before the broker buffers them. aedes
 * (1.x) and its parser accept any length an MQTT header announces, up to
 * 256 MB, and buffer the packet whole; so the byte stream from the socket is
 * watched here and the connection is closed as soon as a packet announces
 * more than the limit. Only the fixed header's length is read (a type byte,
 * then 1-4 bytes of "remaining length"); parsing stays with the library.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

export class PacketTooLarge extends Error {}

/** Follows packet boundaries through a byte stream, reading only each packet's announced length. */
export class PacketLengthCheck {
  private state: 'type' | 'length' | 'body' = 'type';
  private remaining = 0;
  private multiplier = 1;
  private lengthBytes = 0;

  constructor(private readonly maxPacketBytes: number) {}

  /** Throws PacketTooLarge when a packet in `chunk` announces more than maxPacketBytes (or a malformed length). */
  check(chunk: Uint8Array): void {
    let index = 0;
    while (index < chunk.length) {
      if (this.state === 'type') {
        index += 1;
        this.state = 'length';
        this.remaining = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === 'length') {
        const byte = chunk[index] as number;
        index += 1;
        this.remaining += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes += 1;
        if ((byte & 0x80) !== 0) {
          if (this.lengthBytes === 4) throw new PacketTooLarge('malformed packet length');
          continue;
        }
        if (1 + this.lengthBytes + this.remaining > this.maxPacketBytes) {
          throw new PacketTooLarge(`a packet of ${1 + this.lengthBytes + this.remaining} bytes is over the limit of ${this.maxPacketBytes}`);
        }
        this.state = this.remaining === 0 ? 'type' : 'body';
      } else {
        const taken = Math.min(this.remaining, chunk.length - index);
        index += taken;
        this.remaining -= taken;
        if (this.remaining === 0) this.state = 'type';
      }
    }
  }
}

/**
 * The socket as the broker sees it: the same bytes both ways, with every
 * incoming chunk checked first (PacketLengthCheck) and the socket paused
 * while the broker has not read what it was given.
 */
export class SizeCheckedStream extends Duplex {
  private readonly lengths: PacketLengthCheck;

  constructor(
    private readonly socket: Socket,
    maxPacketBytes: number,
  ) {
    super({ allowHalfOpen: false });
    this.lengths = new PacketLengthCheck(maxPacketBytes);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.lengths.check(chunk);
      } catch (error) {
        this.destroy(error as Error);
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.writeToSocket(chunk, done);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (error?: Error | null) => void): void {
    this.writeToSocket(Buffer.concat(chunks.map(({ chunk }) => chunk)), done);
  }

  /** Done at once while the socket takes more, else once it drained: the broker sees the socket's backpressure. */
  private writeToSocket(bytes: Buffer, done: (error?: Error | null) => void): void {
    if (this.socket.write(bytes)) done();
    else this.socket.once('drain', () => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end();
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.socket.destroy();
    done(error);
  }
}
