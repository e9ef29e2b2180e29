/**
 * The client of nb2prod's server extension (nb2prod/server/handlers.py).
 *
 * Every request goes through `ServerConnection.makeRequest`, which adds the
 * token and the XSRF header. The server holds all of nb2prod's logic: this
 * module only moves JSON and turns error replies into `Nb2prodError`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Where in the notebook a problem is (nb2prod.errors.CellRef). */
export interface ICellRef {
  index: number;
  first_line: string;
  line: number | null;
}

/** One finding about the notebook, with its fix (nb2prod.errors.Problem). */
export interface IProblem {
  code: string;
  message: string;
  fix: string;
  severity: 'error' | 'warning';
  cell: ICellRef | null;
}

/** One code cell of the check report. */
export interface ICellReport {
  index: number;
  first_line: string;
  role: string | null;
  declared: boolean;
  function: string | null;
  inputs: string[];
  outputs: string[];
  suggested_role: string | null;
  problems: IProblem[];
}

/** `nb2prod check --json`'s report (nb2prod.check.report_of). */
export interface ICheckReport {
  notebook: string;
  convertible: boolean;
  project: string;
  cells: ICellReport[];
  problems: IProblem[];
}

/** The role vocabulary and the tags that declare roles (GET /nb2prod/roles). */
export interface IRoles {
  roles: string[];
  tag_of: Record<string, string>;
  role_tags: string[];
  role_tag_prefixes: string[];
}

/** What `convert` wrote (the CLI's `convert --json`, plus root-relative file names). */
export interface IConversion {
  output_path: string;
  project: string;
  files: string[];
  written: string[];
  unchanged: string[];
  warnings: IProblem[];
}

/** What `verify` compared (nb2prod.verify.VerifyReport). */
export interface IVerification {
  passed: boolean;
  checks: {
    kind: string;
    name: string;
    passed: boolean;
    difference: number | null;
  }[];
  executed_notebook_path: string | null;
}

export type DoctorStatus = 'ok' | 'missing' | 'warning';

/** One fact about the server's Python, and its fix (nb2prod.doctor.Check). */
export interface IDoctorCheck {
  name: string;
  status: DoctorStatus;
  detail: string;
  fix: string | null;
  core: boolean;
}

/** One module the notebook imports: does it resolve on the server (nb2prod.doctor.ImportFact). */
export interface IImportFact {
  module: string;
  status: DoctorStatus;
  detail: string;
  cells: number[];
  needed: boolean;
  distribution: string | null;
  version: string | null;
  fix: string | null;
}

/** `nb2prod doctor --json [NB]` of the server's Python (nb2prod.doctor.Diagnosis). */
export interface IDiagnosis {
  nb2prod: string;
  python: string;
  ok: boolean;
  checks: IDoctorCheck[];
  notebook?: string;
  imports?: IImportFact[];
}

/** The body of an error reply. */
export interface IErrorReply {
  message: string;
  notebook?: string | null;
  problems?: IProblem[];
}

export interface IJob<T> {
  id: string;
  kind: 'convert' | 'verify';
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  elapsed: number;
  result: T | null;
  error: IErrorReply | null;
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

export async function startConvert(path: string, output: string): Promise<IJob<IConversion>> {
  return (await post<{ job: IJob<IConversion> }>('convert', { path, output })).job;
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
