import type { FastifyServerOptions } from 'fastify';

/** pino JSON logs; credentials never reach them. */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["lfs-authenticate"]', '*.password', '*.token', '*.secret'],
      censor: '[redacted]',
    },
  };
}
