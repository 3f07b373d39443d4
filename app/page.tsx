import { Studio } from "@/components/studio";

export default function HomePage() {
  return (
    <main className="mx-auto max-w-2xl space-y-6 px-4 py-10">
      <header className="space-y-2">
        <h1 className="text-3xl font-semibold tracking-tight">Style Studio</h1>
        <p className="text-stone-600">
          Upload a photo of yourself and a garment, name the occasion, and get styling advice with a picture
          of you wearing it.
        </p>
      </header>
      <Studio />
    </main>
  );
}
