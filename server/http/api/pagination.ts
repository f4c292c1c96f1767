import type { FastifyReply, FastifyRequest } from 'fastify';
import { invalid } from '../../domain/errors.ts';

export interface Page {
  page: number;
  perPage: number;
}

export function parsePage(query: { page?: string; per_page?: string }): Page {
  const page = query.page === undefined ? 1 : Number(query.page);
  const perPage = query.per_page === undefined ? 30 : Number(query.per_page);
  if (!Number.isInteger(page) || page < 1 || page > 100_000) throw invalid('page must be a whole number >= 1');
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) throw invalid('per_page must be between 1 and 100');
  return { page, perPage };
}

/** GitHub-style `Link` header (next/prev/last) plus `X-Total-Count`. */
export function setPageHeaders(request: FastifyRequest, reply: FastifyReply, page: Page, total: number): void {
  const last = Math.max(1, Math.ceil(total / page.perPage));
  const url = new URL(request.url, 'http://x');
  const link = (n: number, rel: string) => {
    url.searchParams.set('page', String(n));
    url.searchParams.set('per_page', String(page.perPage));
    return `<${url.pathname}${url.search}>; rel="${rel}"`;
  };
  const links = [];
  if (page.page < last) links.push(link(page.page + 1, 'next'), link(last, 'last'));
  if (page.page > 1) links.push(link(page.page - 1, 'prev'), link(1, 'first'));
  if (links.length) reply.header('Link', links.join(', '));
  reply.header('X-Total-Count', String(total));
}
