import { Studio } from "@/components/studio";
import { getConfig } from "@/lib/config";

interface HomePageProps {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}

export default async function HomePage({ searchParams }: HomePageProps) {
  const blobs = getConfig().blobs;
  // Read on the server, so a reload or a shared link renders the job's view at once, with no flash of the form.
  const { job } = await searchParams;
  return (
    <div className="flex min-h-screen flex-col">
      <header className="border-b border-stone-200/70">
        <div className="mx-auto flex max-w-5xl items-center px-5 py-4 sm:px-8">
          <a
            href="/"
            className="flex items-center gap-2.5 rounded-md font-serif text-lg font-medium tracking-tight text-stone-900 focus-visible:outline-2 focus-visible:outline-offset-4 focus-visible:outline-stone-900"
          >
            <span
              aria-hidden="true"
              className="flex size-7 items-center justify-center rounded-full bg-stone-900 text-xs text-white"
            >
              S
            </span>
            Style Studio
          </a>
        </div>
      </header>
      <main className="mx-auto w-full max-w-5xl flex-1 px-5 py-10 sm:px-8 sm:py-14">
        <Studio
          initialJobId={typeof job === "string" && job ? job : null}
          directUploads={blobs.kind === "vercel-blob" ? blobs.access : null}
        />
      </main>
    </div>
  );
}
