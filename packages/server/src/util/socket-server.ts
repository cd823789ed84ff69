/**
 * A TCP server for a stream protocol, TLS when given options, with Nagle's
 * delay off (small frames go out at once). A failed TLS handshake is the
 * client's problem: that socket is dropped and the others are served.
 */
import { type Server, type Socket, createServer } from 'node:net';
import { type TlsOptions, createServer as createTlsServer } from 'node:tls';

export function socketServer(tls: TlsOptions | undefined, onSocket: (socket: Socket) => void): Server {
  const server =
    tls === undefined
      ? createServer({ noDelay: true }, onSocket)
      : createTlsServer(tls, (socket) => {
          socket.setNoDelay(true);
          onSocket(socket);
        });
  server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
  return server;
}
