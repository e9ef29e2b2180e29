/**
 * The client of nb2prod's server extension (nb2prod/server/handlers.py).
 *
 * Every request goes through `ServerConnection.makeRequest`, which adds the
 * token and the XSRF header. The server holds all of nb2prod's logic: this
 * module only moves JSON and turns error replies into `Nb2prodError`. The types of
 * that JSON are generated from the server's schemas (schema.ts, nb2prod/schemas).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  ICheckReport,
  IConversion,
  IDiagnosis,
  IErrorReply,
  IJob as IJobJson,
  IProblem,
  IRoles,
  IVerification
} from './schema';

/** A job whose result, once `done`, is a `T`: `IConversion` (convert) or `IVerification` (verify). */
export interface IJob<T> extends Omit<IJobJson, 'result'> {
  result: T | null;
}

/** A refused request or a failed job, with the problems (and cells) it names. */
export class Nb2prodError extends Error {
  constructor(
    message: string,
    readonly problems: IProblem[] = [],
    readonly status: number | null = null
  ) {
    super(message);
    this.name = 'Nb2prodError';
  }

  static of(reply: IErrorReply, status: number | null = null): Nb2prodError {
    return new Nb2prodError(reply.message, reply.problems ?? [], status);
  }
}

async function request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'nb2prod', endpoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    throw new Nb2prodError(`the server answered ${response.status}: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    throw Nb2prodError.of(data as IErrorReply, response.status);
  }
  return data as T;
}

function post<T>(endpoint: string, body: object): Promise<T> {
  return request<T>(endpoint, { method: 'POST', body: JSON.stringify(body) });
}

/** The check report of `path`, or of its unsaved `notebook` content when given. */
export function check(path: string, notebook?: unknown): Promise<ICheckReport> {
  return post<ICheckReport>('check', notebook === undefined ? { path } : { path, notebook });
}

export function roles(): Promise<IRoles> {
  return request<IRoles>('roles');
}

/** What works in the server's Python; with `path`, whether the notebook's imports resolve. */
export function doctor(path?: string): Promise<IDiagnosis> {
  return request<IDiagnosis>(
    path === undefined ? 'doctor' : `doctor${URLExt.objectToQueryString({ path })}`
  );
}

/**
 * Start a convert job; `kfp` also compiles the Kubeflow pipeline (`convert --kfp`). Left
 * out when false: the server then keeps the project's earlier choice.
 */
export async function startConvert(
  path: string,
  output: string,
  kfp = false
): Promise<IJob<IConversion>> {
  return (
    await post<{ job: IJob<IConversion> }>(
      'convert',
      kfp ? { path, output, kfp } : { path, output }
    )
  ).job;
}

export async function startVerify(project: string): Promise<IJob<IVerification>> {
  return (await post<{ job: IJob<IVerification> }>('verify', { path: project })).job;
}

/** Cancel a job: a queued one never starts, a running one is killed with what it started. */
export async function cancelJob<T>(job: IJob<T>): Promise<IJob<T>> {
  return (await request<{ job: IJob<T> }>(`jobs/${job.id}`, { method: 'DELETE' })).job;
}

/**
 * Poll a job until it ends: its result, or `Nb2prodError` with its problems
 * (a cancelled job, a job past the server's time limit and a failed one alike).
 * `onPoll` sees each state on the way (for a progress display).
 */
export async function finished<T>(
  job: IJob<T>,
  onPoll: (job: IJob<T>) => void = () => undefined,
  intervalMs = 500
): Promise<T> {
  let current = job;
  while (current.status === 'queued' || current.status === 'running') {
    onPoll(current);
    await new Promise(resolve => setTimeout(resolve, intervalMs));
    current = (await request<{ job: IJob<T> }>(`jobs/${current.id}`)).job;
  }
  if (current.status !== 'done' || current.result === null) {
    throw Nb2prodError.of(current.error ?? { message: 'the job failed' });
  }
  return current.result;
}
