// Types of gen.mjs, for test/native/gen-ops.test.ts.
export interface SpecArg {
  name: string;
  kind: string;
  def?: string;
}
export interface SpecOp {
  name: string;
  args: SpecArg[];
  ret: 'T' | 'T?' | 'T,T' | 'self';
  expr: string;
  cc: string;
  method: string;
  section: string;
}
export interface Spec {
  ops: SpecOp[];
  manual: { name: string; sig: string }[];
}
export const ROOT: string;
export const SPEC: string;
export const OUTPUTS: { cc: string; decl: string; methods: string };
export function parseSpec(text: string): Spec;
export function generate(root?: string): Promise<Map<string, string>>;
export function staleFiles(root?: string): Promise<string[]>;
